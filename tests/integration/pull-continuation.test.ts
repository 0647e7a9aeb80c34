import { EntityCatalog } from '../../shared/config/entity.catalog';
import { DEFAULT_SYNC_CONFIG } from '../../shared/config/sync-config.schema';
import { RunHistoryRepository } from '../../shared/cosmos/run-history.repository';
import type { OutgoingMessage } from '../../shared/queue/job-queue.port';
import { runPullJob } from '../../shared/sync/pull-job.handler';
import type { EntityProfile } from '../../shared/domain/entity.profile';
import { PullUseCase, type PullOptions } from '../../shared/sync/pull.use-case';
import { IGNORE_PROGRESS } from '../../shared/sync/ports';
import { quietLog, usePullStack } from './pull-stack.fixture';

describe('pull: time budget and continuation jobs through the handler', () => {
  const stack = usePullStack({ records: 40, seed: 44 });

  it('stops after the page that crosses the budget and finishes through continuation jobs', async () => {
    const queue: OutgoingMessage[] = [];
    const runs = new RunHistoryRepository(stack().container('syncState'));
    const deps = {
      runs,
      catalog: new EntityCatalog(),
      syncConfig: DEFAULT_SYNC_CONFIG,
      errors: stack().errors,
      queue: {
        send: async (_q: string, messages: readonly OutgoingMessage[]) => void queue.push(...messages),
        close: async () => undefined,
      },
      queueName: 'pull-jobs',
      enabledEntities: ['contact'],
      log: quietLog,
      observer: IGNORE_PROGRESS,
      dataverseCounters: () => stack().dataverse.governor.counters(),
      // A 1 ms budget: every job reads one page, then hands over.
      pull: (profile: EntityProfile, options: PullOptions) =>
        new PullUseCase(profile, {
          source: stack().dataverse.reader,
          records: stack().records('people'),
          checkpoints: stack().checkpoints,
          errors: stack().errors,
          log: quietLog,
          observer: IGNORE_PROGRESS,
          timeBudgetMs: 1,
          pageSize: 10,
        }).run(options),
    };
    const first = {
      kind: 'pull',
      entity: 'contact',
      reason: 'schedule',
      correlationId: 'c-1',
      slot: '2026-01-01T00:00:00.000Z',
      requestedAt: '2026-01-01T00:00:00.000Z',
      sequence: 0,
    };
    let outcome = await runPullJob(first, { messageId: 'pull:contact:2026-01-01T00:00:00.000Z' }, deps);
    let jobs = 1;
    while (outcome.status === 'continued') {
      const next = queue.shift() as OutgoingMessage;
      expect(next.sessionId).toBe('contact');
      expect(next.body).toMatchObject({ reason: 'continuation', sequence: jobs });
      outcome = await runPullJob(next.body, { messageId: next.messageId }, deps);
      jobs += 1;
      if (jobs > 20) throw new Error('runaway continuation chain');
    }
    expect(outcome.status).toBe('succeeded');
    const synced = (stack().sim.control.listRows('contact') as Record<string, unknown>[]).filter(
      (r) => r.new_synctomkto !== false,
    );
    // 40 contacts in pages of 10: several jobs, and nothing lost across the hand-overs.
    expect(jobs).toBeGreaterThanOrEqual(4);
    expect(await stack().all('people')).toHaveLength(synced.length);
    const history = await runs.latest('contact', 50);
    expect(history.filter((r) => r.status === 'continued')).toHaveLength(jobs - 1);
    expect(history.every((r) => r.requests > 0)).toBe(true);
    console.log(`continuation: ${jobs} jobs for ${synced.length} contacts`);
  });
});
