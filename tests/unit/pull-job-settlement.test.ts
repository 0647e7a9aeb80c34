import type { MessageSettlement } from '../../shared/queue/job-queue.port';
import type { PullJobOutcome } from '../../shared/sync/pull-job.handler';
import {
  deadLetterDescription,
  INVALID_PULL_JOB,
  MAX_DEAD_LETTER_DESCRIPTION,
  runAndSettle,
  settlementFor,
} from '../../shared/sync/pull-job.settlement';
import { createLogger } from '../../shared/telemetry/logger';
import { noPullStats, type PullResult } from '../../shared/sync/pull.use-case';

const quiet = createLogger({ debug() {}, info() {}, warn() {}, error() {} });

function recorder(fail: Partial<Record<keyof MessageSettlement, Error>> = {}) {
  const calls: string[] = [];
  const actions: MessageSettlement = {
    complete: async () => {
      calls.push('complete');
      if (fail.complete) throw fail.complete;
    },
    abandon: async () => {
      calls.push('abandon');
      if (fail.abandon) throw fail.abandon;
    },
    deadLetter: async (reason, description) => {
      calls.push(`deadLetter ${reason}: ${description}`);
      if (fail.deadLetter) throw fail.deadLetter;
    },
  };
  return { calls, actions };
}

describe('settling a pull job message by its outcome', () => {
  const done: PullResult = {
    outcome: 'done',
    phase: 'delta',
    stats: { ...noPullStats(), pages: 1, rows: 1, written: 1 },
    resynced: false,
  };

  it.each<PullJobOutcome>([
    { status: 'succeeded', result: done },
    { status: 'continued', result: { ...done, outcome: 'continue' } },
    { status: 'paused', result: { ...done, outcome: 'paused' } },
    { status: 'failed', reason: 'bad response from Dataverse' },
  ])('completes the message of a $status job', (outcome) => {
    expect(settlementFor(outcome)).toEqual({ action: 'complete' });
  });

  it('dead-letters a rejected job with the fixed code and its reason as the description', () => {
    expect(settlementFor({ status: 'rejected', reason: 'entity: must be a Dataverse logical name' })).toEqual(
      {
        action: 'deadLetter',
        reason: INVALID_PULL_JOB,
        description: 'entity: must be a Dataverse logical name',
      },
    );
  });

  it('keeps the description to one printable, bounded line without credentials', () => {
    expect(deadLetterDescription('line one\nline two\t\u0000end')).toBe('line one line two end');
    expect(deadLetterDescription('sent with Bearer eyJhbGciOi.x.y and AccountKey=abc;')).toBe(
      'sent with Bearer [redacted] and AccountKey=[redacted];',
    );
    const long = deadLetterDescription('x'.repeat(5000));
    expect(long).toHaveLength(MAX_DEAD_LETTER_DESCRIPTION);
    expect(long.endsWith('…')).toBe(true);
    expect(deadLetterDescription('  \n ')).toBe('invalid pull job');
  });

  it('runs the job and applies the settlement through the actions given', async () => {
    const ok = recorder();
    await expect(
      runAndSettle(async () => ({ status: 'failed', reason: 'gone' }), ok.actions, quiet),
    ).resolves.toEqual({ status: 'failed', reason: 'gone' });
    expect(ok.calls).toEqual(['complete']);

    const bad = recorder();
    await runAndSettle(
      async () => ({ status: 'rejected', reason: 'kind: Invalid input' }),
      bad.actions,
      quiet,
    );
    expect(bad.calls).toEqual([`deadLetter ${INVALID_PULL_JOB}: kind: Invalid input`]);
  });

  it('abandons and rethrows when the job throws (a retryable failure), even if the abandon fails', async () => {
    const failure = Object.assign(new Error('Dataverse answered 503'), { retryable: true });
    const plain = recorder();
    await expect(runAndSettle(async () => Promise.reject(failure), plain.actions, quiet)).rejects.toBe(
      failure,
    );
    expect(plain.calls).toEqual(['abandon']);

    const warnings: unknown[] = [];
    const log = createLogger({ debug() {}, info() {}, warn: (...a) => warnings.push(a), error() {} });
    const lost = recorder({ abandon: new Error('lock lost') });
    await expect(runAndSettle(async () => Promise.reject(failure), lost.actions, log)).rejects.toBe(failure);
    expect(lost.calls).toEqual(['abandon']);
    expect(JSON.stringify(warnings)).toMatch(/lock lost/);
  });

  it('lets a failed settlement surface (the host then treats the invocation as failed)', async () => {
    const broken = recorder({ deadLetter: new Error('NOT_FOUND: no message with lock token') });
    await expect(
      runAndSettle(async () => ({ status: 'rejected', reason: 'x' }), broken.actions, quiet),
    ).rejects.toThrow(/NOT_FOUND/);
  });
});
