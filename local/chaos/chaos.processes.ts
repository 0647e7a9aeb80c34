import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** A free loopback port, so that a restarted child can listen where its clients look for it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port to listen on');
  return address.port;
}

/**
 * A part of the stack in a child process of its own (a TypeScript file run through tsx), started
 * again and again: killed with SIGKILL when the chaos says so, stopped with SIGTERM at the end.
 */
export class ChildService {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private starting: Promise<void> | undefined;
  private ready = false;
  starts = 0;

  constructor(
    readonly name: string,
    private readonly file: string,
    private readonly args: readonly string[],
    private readonly env: Record<string, string>,
    /** A stdout line that says the child is ready. */
    private readonly readyLine: RegExp,
    private readonly onLine: (line: string) => void,
  ) {}

  /** Up and ready: a child still starting is not killed (its start would fail, not the stack). */
  get running(): boolean {
    return this.child !== undefined && this.ready;
  }

  /** Starts the child, or waits for the start already under way. */
  start(timeoutMs = 60_000): Promise<void> {
    if (this.starting !== undefined) return this.starting;
    if (this.child !== undefined) return Promise.resolve();
    this.starting = this.spawn(timeoutMs).finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async spawn(timeoutMs: number): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, this.file), ...this.args], {
      cwd: ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts += 1;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        if (this.child === child) {
          this.child = undefined;
          this.ready = false;
        }
        resolve();
      }),
    );
    let buffer = '';
    let readyLine = false;
    const isReady = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} did not say it was ready within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          this.onLine(line);
          if (!readyLine && this.readyLine.test(line)) {
            readyLine = true;
            this.ready = true;
            clearTimeout(timer);
            resolve();
          }
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', (chunk: Buffer) => this.onLine(chunk.toString('utf8').trimEnd()));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!readyLine) reject(new Error(`${this.name} exited (${code ?? signal}) before it was ready`));
      });
    });
    await isReady;
  }

  /** SIGKILL: no shutdown of any kind, as when a worker is recycled or a node dies. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.kill('SIGTERM');
    await this.exited;
    clearTimeout(force);
  }
}
