import Table from 'cli-table3';
import { formatDuration } from './progress.display';
import type { SyncOnceReport } from './sync-once.runner';

const count = (n: number) => n.toLocaleString('en-US');

/** The closing table of `sync --once`, one row per entity and a total; plain characters, no colours. */
export function renderSummary(report: SyncOnceReport): string {
  const table = new Table({
    head: ['entity', 'read', 'written', 'unchanged', 'errors', 'requests', 'duration', 'status'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
    // No colour codes: the table also lands in logs and tests.
    style: { head: [], border: [] },
  });
  const total = { read: 0, written: 0, unchanged: 0, errors: 0, requests: 0 };
  for (const p of report.entities) {
    const duration =
      p.startedAt !== undefined && p.finishedAt !== undefined
        ? formatDuration(p.finishedAt - p.startedAt)
        : '-';
    table.push([
      p.entity,
      count(p.read),
      count(p.written),
      count(p.unchanged),
      count(p.errors),
      count(p.requests),
      duration,
      p.status,
    ]);
    total.read += p.read;
    total.written += p.written;
    total.unchanged += p.unchanged;
    total.errors += p.errors;
    total.requests += p.requests;
  }
  table.push([
    'total',
    count(total.read),
    count(total.written),
    count(total.unchanged),
    count(total.errors),
    count(total.requests),
    formatDuration(report.durationMs),
    !report.ok ? 'NOT OK' : total.errors > 0 ? 'errors' : 'ok',
  ]);
  const lines = [table.toString()];
  if (report.requests !== undefined) {
    lines.push(`Dataverse requests sent, retries included: ${count(report.requests)}`);
  }
  for (const p of report.entities) {
    if (p.status !== 'synced' && p.detail !== undefined) lines.push(`${p.entity}: ${p.status}: ${p.detail}`);
    if (p.markedDeleted > 0) {
      lines.push(
        `${p.entity}: ${count(p.markedDeleted)} records no longer in Dynamics marked deleted (found by a resync, not read as rows)`,
      );
    }
  }
  if (total.errors > 0) {
    lines.push(
      `${count(total.errors)} sync error(s) recorded in this run: GET /api/errors lists them (the sync-errors container holds them).`,
    );
  }
  for (const dead of report.deadLetters) {
    lines.push(
      `dead-lettered ${dead.message.messageId}: ${dead.reason}${dead.description ? ` (${dead.description})` : ''}`,
    );
  }
  return lines.join('\n');
}
