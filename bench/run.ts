// Runs every bench/*.bench.ts one after another, each in its own process, and prints their output.
// `npm run bench -- pull` runs only the benches whose file name contains "pull"; options such as
// `--full` are passed to each benchmark that runs.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const main = async (): Promise<number> => {
  const args = process.argv.slice(2).filter((arg) => arg !== '--');
  // Options (`--full`) go to every benchmark that runs; the other words pick the benchmarks.
  const options = args.filter((arg) => arg.startsWith('--'));
  const filters = args.filter((arg) => !arg.startsWith('--'));
  const files = readdirSync(__dirname)
    .filter((file) => file.endsWith('.bench.ts'))
    .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
    .sort();
  if (files.length === 0) {
    console.error(`no benchmark matches ${filters.join(', ')}`);
    return 2;
  }
  let failures = 0;
  for (const file of files) {
    console.log(`\n=== ${file} ===`);
    const started = Date.now();
    // Sequential and one process each: benchmarks must not compete for the CPU or share a heap.
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, file), ...options], {
        cwd: join(__dirname, '..'),
        stdio: 'inherit',
      });
      child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal !== null ? 1 : 0)));
      child.on('error', () => resolve(1));
    });
    console.log(
      `=== ${file}: ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${((Date.now() - started) / 1000).toFixed(1)} s ===`,
    );
    if (code !== 0) failures += 1;
  }
  return failures === 0 ? 0 : 1;
};

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
