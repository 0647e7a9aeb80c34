import type { EntityProgress } from './sync-once.runner';

/** The part of a stream the display writes to (process.stderr in the CLI). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): unknown;
}

export interface ProgressDisplayOptions {
  /** Live lines redrawn in place on a TTY; plain lines through `line` otherwise. */
  stream?: ProgressStream;
  /** Where plain lines go when the stream is not a TTY. */
  line: (text: string) => void;
  /** Redraw period on a TTY. */
  redrawMs?: number;
  /** Period of the plain progress lines. */
  reportMs?: number;
  now?: () => number;
}

const CLEAR_LINE = '\x1b[2K';
const up = (n: number) => (n > 0 ? `\x1b[${n}A` : '');
const count = (n: number) => n.toLocaleString('en-US');

export function formatRate(progress: EntityProgress, now: number): string {
  if (progress.startedAt === undefined) return '-';
  const seconds = Math.max(0.001, ((progress.finishedAt ?? now) - progress.startedAt) / 1000);
  return `${count(Math.round(progress.read / seconds))} rec/s`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function progressLine(p: EntityProgress, now: number, nameWidth = 12): string {
  const parts = [
    p.entity.padEnd(nameWidth),
    p.status.padEnd(8),
    `${count(p.read)} records`,
    `${count(p.pages)} pages`,
    formatRate(p, now),
    `${count(p.written)} written`,
  ];
  if (p.errors > 0) parts.push(`${count(p.errors)} errors`);
  if (p.status === 'retrying' && p.detail !== undefined) parts.push(p.detail);
  return parts.join('  ');
}

/**
 * Progress on stderr: one live line per entity redrawn in place when stderr is a terminal; in a
 * log (CI, a pipe) plain lines instead, on every status change and periodically while running,
 * because cursor movement would only litter a log.
 */
export class ProgressDisplay {
  private readonly entities = new Map<string, EntityProgress>();
  private readonly tty: boolean;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private drawn = 0;
  private dirty = false;
  private readonly lastStatus = new Map<string, string>();
  private readonly lastReported = new Map<string, string>();

  constructor(private readonly options: ProgressDisplayOptions) {
    this.tty = options.stream?.isTTY === true;
    this.now = options.now ?? Date.now;
  }

  get isLive(): boolean {
    return this.tty;
  }

  start(entities: readonly EntityProgress[]): void {
    for (const p of entities) {
      this.entities.set(p.entity, p);
      this.lastStatus.set(p.entity, p.status);
    }
    const period = this.tty ? (this.options.redrawMs ?? 200) : (this.options.reportMs ?? 5000);
    this.timer = setInterval(() => (this.tty ? this.redraw() : this.report()), period);
    this.timer.unref();
    if (this.tty) this.redraw(true);
  }

  /** Called on every change; cheap, because drawing happens on the timer. */
  update(progress: EntityProgress): void {
    this.entities.set(progress.entity, progress);
    this.dirty = true;
    const previous = this.lastStatus.get(progress.entity);
    if (previous !== progress.status) {
      this.lastStatus.set(progress.entity, progress.status);
      if (!this.tty && previous !== undefined) this.emitPlain(progress);
    }
  }

  /** A log line that must not be overwritten by the live lines. */
  log(text: string): void {
    if (!this.tty) {
      this.options.line(text);
      return;
    }
    this.write(`${up(this.drawn)}\x1b[J${text}\n`);
    this.drawn = 0;
    this.redraw(true);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) this.redraw(true);
  }

  private nameWidth(): number {
    return Math.max(8, ...[...this.entities.keys()].map((name) => name.length));
  }

  private redraw(force = false): void {
    if (!force && !this.dirty) return;
    this.dirty = false;
    const now = this.now();
    const width = this.options.stream?.columns ?? 120;
    const lines = [...this.entities.values()].map(
      (p) => `${CLEAR_LINE}${progressLine(p, now, this.nameWidth()).slice(0, Math.max(20, width - 1))}\n`,
    );
    this.write(`${up(this.drawn)}${lines.join('')}`);
    this.drawn = lines.length;
  }

  private report(): void {
    for (const p of this.entities.values()) {
      if (p.status !== 'running' && p.status !== 'retrying') continue;
      this.emitPlain(p);
    }
  }

  private emitPlain(p: EntityProgress): void {
    const line = progressLine(p, this.now(), this.nameWidth());
    // Periodic lines repeat only when something moved.
    const key = `${p.status}:${p.read}:${p.written}:${p.errors}`;
    if (this.lastReported.get(p.entity) === key) return;
    this.lastReported.set(p.entity, key);
    this.options.line(`[${new Date(this.now()).toISOString().slice(11, 19)}] ${line}`);
  }

  private write(chunk: string): void {
    this.options.stream?.write(chunk);
  }
}
