import {
  ABANDONED_AFTER_MS,
  entityStateOf,
  runStateOf,
  type EntityStatusRecord,
} from '../../shared/domain/entity-status.model';
import type { RunRecord } from '../../shared/domain/run-record.model';

const now = new Date('2026-12-04T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();

const run = (status: RunRecord['status'], startedMsAgo: number): RunRecord => ({
  id: 'run:1',
  entity: 'contact',
  type: 'run',
  jobMessageId: '1',
  correlationId: 'c',
  reason: 'schedule',
  startedAt: ago(startedMsAgo),
  status,
  records: 0,
  requests: 0,
});

describe('runStateOf: a run left running after a crash is shown abandoned', () => {
  it.each<[string, RunRecord, ReturnType<typeof runStateOf>]>([
    ['running, just started', run('running', 1000), 'running'],
    ['running, at the limit', run('running', ABANDONED_AFTER_MS), 'running'],
    ['running past any possible end', run('running', ABANDONED_AFTER_MS + 1), 'abandoned'],
    ['running for a day', run('running', 24 * 3_600_000), 'abandoned'],
    ['failed', run('failed', 10), 'failed'],
    ['succeeded long ago', run('succeeded', 24 * 3_600_000), 'succeeded'],
    ['continued', run('continued', 10), 'succeeded'],
  ])('%s', (_what, record, expected) => {
    expect(runStateOf(record, now)).toBe(expected);
  });

  it('an entity whose last run was abandoned is failing, not syncing', () => {
    const status = { lastRun: run('running', ABANDONED_AFTER_MS + 60_000) } as EntityStatusRecord;
    expect(entityStateOf(status, false, now)).toBe('failing');
    expect(entityStateOf({ lastRun: run('running', 1000) } as EntityStatusRecord, false, now)).toBe(
      'syncing',
    );
  });
});
