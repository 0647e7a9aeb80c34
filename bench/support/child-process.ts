import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/** Runs a TypeScript file in a fresh Node process (tsx loader), from the repository root. */
export function spawnTs(
  file: string,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: readonly string[] = [],
): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, file), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

/** Waits for the first stdout line starting with `prefix ` and parses the JSON after it. */
export function waitForLine<T>(
  child: ChildProcess,
  prefix: string,
  onOther?: (line: string) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let done = false;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (!done && line.startsWith(`${prefix} `)) {
          done = true;
          resolve(JSON.parse(line.slice(prefix.length + 1)) as T);
        } else {
          onOther?.(line);
        }
        newline = buffer.indexOf('\n');
      }
    });
    child.once('exit', (code) => {
      if (!done) reject(new Error(`child exited with ${code} before printing ${prefix}`));
    });
    child.once('error', reject);
  });
}

/** Runs `run` with what a stand-in child announced on its READY line, then stops the child. */
export async function withReadyChild<I, T>(child: ChildProcess, run: (info: I) => Promise<T>): Promise<T> {
  try {
    return await run(await waitForLine<I>(child, 'READY'));
  } finally {
    await stopChild(child);
  }
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    // Closing stdin lets a child finish on its own (and write a --cpu-prof profile); SIGTERM if it lingers.
    const timer = setTimeout(() => child.kill('SIGTERM'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdin?.end();
  });
}

/**
 * Compiles a TypeScript entry and its local imports into one CommonJS file (packages stay external),
 * so a measured process runs plain JavaScript as a deployment would: the tsx loader alone adds about
 * 50 MB of RSS. Uses the esbuild that tsx ships with; returns undefined if it is not there.
 */
export async function bundleTs(file: string): Promise<string | undefined> {
  let esbuild: { build(options: Record<string, unknown>): Promise<unknown> };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    esbuild = require('esbuild') as typeof esbuild;
  } catch {
    return undefined;
  }
  const outfile = join(mkdtempSync(join(tmpdir(), 'bench-')), 'entry.js');
  await esbuild.build({
    entryPoints: [join(ROOT, file)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    absWorkingDir: ROOT,
    logLevel: 'warning',
  });
  return outfile;
}

/** Runs a bundled file (see bundleTs) from the repository root, so its packages resolve. */
export function spawnJs(
  file: string,
  args: readonly string[] = [],
  nodeArgs: readonly string[] = [],
): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, file, ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}
