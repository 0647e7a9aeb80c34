import { formatDuration, ProgressDisplay, progressLine } from '../../shared/cli/progress.display';
import { queuedProgress, type EntityProgress } from '../../shared/cli/sync-once.runner';

const entity = (overrides: Partial<EntityProgress> = {}): EntityProgress => ({
  ...queuedProgress('contact'),
  ...overrides,
});

describe('progress display', () => {
  it('formats a line with records, pages, rate and errors', () => {
    const line = progressLine(
      entity({ status: 'running', read: 12_000, pages: 3, written: 11_000, errors: 2, startedAt: 0 }),
      4000,
    );
    expect(line).toMatch(
      /^contact\s+running\s+12,000 records {2}3 pages {2}3,000 rec\/s {2}11,000 written {2}2 errors$/,
    );
    expect(formatDuration(950)).toBe('950 ms');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
  });

  it('without a TTY prints plain lines on status changes and periodically while running', async () => {
    const lines: string[] = [];
    let now = 0;
    const display = new ProgressDisplay({ line: (l) => lines.push(l), reportMs: 10, now: () => now });
    const p = entity();
    display.start([p]);
    display.update(Object.assign(p, { status: 'running', startedAt: 0 }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/contact\s+running\s+0 records/);
    Object.assign(p, { read: 5000, pages: 1 });
    now = 1000;
    display.update(p);
    await new Promise((resolve) => setTimeout(resolve, 30));
    // Periodic lines only when something moved: one for 5000 records, not one per tick.
    expect(lines.filter((l) => /5,000 records/.test(l))).toHaveLength(1);
    display.update(Object.assign(p, { status: 'synced', finishedAt: 1000 }));
    display.stop();
    expect(lines.at(-1)).toMatch(/contact\s+synced\s+5,000 records {2}1 pages {2}5,000 rec\/s/);
    expect(lines.join('\n')).not.toContain('\x1b');
  });

  it('on a TTY redraws one line per entity in place and keeps log lines above them', () => {
    const chunks: string[] = [];
    const display = new ProgressDisplay({
      line: () => undefined,
      stream: { isTTY: true, columns: 80, write: (c: string) => chunks.push(c) },
      now: () => 0,
    });
    display.start([entity(), entity({ entity: 'account' })]);
    expect(chunks[0]).toBe(
      `\x1b[2K${progressLine(entity(), 0, 8)}\n\x1b[2K${progressLine(entity({ entity: 'account' }), 0, 8)}\n`,
    );
    display.log('warn: something happened');
    expect(chunks[1]).toBe('\x1b[2A\x1b[Jwarn: something happened\n');
    // The block is drawn again below the log line, from where the cursor now is.
    expect(chunks[2]?.startsWith('\x1b[2K')).toBe(true);
    display.stop();
    expect(chunks.at(-1)?.startsWith('\x1b[2A')).toBe(true);
  });
});
