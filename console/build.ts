import { build } from 'esbuild';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/** Where the console's sources are, and where the built files go (shipped with the Functions package). */
export const CONSOLE_SOURCE = path.resolve(__dirname, 'src');
export const CONSOLE_DIST = path.resolve(__dirname, 'dist');

export interface BuiltFile {
  name: string;
  bytes: number;
  gzipBytes: number;
}

export interface ConsoleBuild {
  outDir: string;
  files: BuiltFile[];
  /** JavaScript and CSS together, as a browser downloads them compressed. */
  gzipBytes: number;
  ms: number;
}

/**
 * Writes `body` to `file` unless it already holds exactly that, through a temporary file and a
 * rename: a server or a test in another process reading the folder meanwhile sees the old file or
 * the new one, never half of one.
 */
async function writeAtomically(file: string, body: Uint8Array): Promise<void> {
  const current = await readFile(file).catch(() => undefined);
  if (current !== undefined && Buffer.compare(current, body) === 0) return;
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temporary, body);
  await rename(temporary, file);
}

/**
 * Bundles the console (Preact and the app, one script and one stylesheet) into `outDir`. Bundle
 * names carry a content hash so the server can let browsers cache them for a year; index.html is
 * written last with those names, so a half-done build never points at a missing bundle. Bundles
 * of earlier builds are removed afterwards. Builds of the same sources are the same files, so
 * test suites in parallel workers can each build without disturbing one another.
 */
export async function buildConsole(outDir: string = CONSOLE_DIST): Promise<ConsoleBuild> {
  const started = performance.now();
  const result = await build({
    entryPoints: { app: path.join(CONSOLE_SOURCE, 'main.tsx') },
    outdir: outDir,
    entryNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    format: 'esm',
    // Browsers an operator is likely to use; the console needs nothing newer than these.
    target: ['chrome111', 'edge111', 'firefox115', 'safari16.4'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
    tsconfig: path.join(__dirname, 'tsconfig.json'),
  });
  const script = result.outputFiles.find((file) => file.path.endsWith('.js'));
  const style = result.outputFiles.find((file) => file.path.endsWith('.css'));
  if (script === undefined || style === undefined || result.outputFiles.length !== 2) {
    const names = result.outputFiles.map((file) => path.basename(file.path)).join(', ');
    throw new Error(`the console build made ${names}: expected one .js and one .css file`);
  }
  const template = await readFile(path.join(CONSOLE_SOURCE, 'index.html'), 'utf8');
  const html = template
    .replace('%STYLE%', path.basename(style.path))
    .replace('%SCRIPT%', path.basename(script.path));
  const outputs = [
    { name: path.basename(script.path), body: script.contents },
    { name: path.basename(style.path), body: style.contents },
    { name: 'index.html', body: Buffer.from(html) },
  ];
  await mkdir(outDir, { recursive: true });
  for (const { name, body } of outputs) await writeAtomically(path.join(outDir, name), body);
  const keep = new Set(outputs.map((o) => o.name));
  for (const name of await readdir(outDir)) {
    if (!keep.has(name) && !name.endsWith('.tmp')) await rm(path.join(outDir, name), { force: true });
  }

  const files = outputs.map(({ name, body }) => ({
    name,
    bytes: body.length,
    gzipBytes: gzipSync(body, { level: 9 }).length,
  }));
  return {
    outDir,
    files,
    gzipBytes: files.reduce((sum, file) => sum + file.gzipBytes, 0),
    ms: Math.round(performance.now() - started),
  };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

if (require.main === module) {
  buildConsole()
    .then((built) => {
      const list = built.files.map((f) => `${f.name} ${kb(f.bytes)} (gzip ${kb(f.gzipBytes)})`).join(', ');
      console.log(
        `console built in ${built.ms} ms into ${path.relative(process.cwd(), built.outDir)}: ${list}; ${kb(built.gzipBytes)} gzip in all`,
      );
    })
    .catch((error: unknown) => {
      console.error(`console build failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    });
}
