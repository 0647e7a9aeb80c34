import { EntityCatalog } from '../../shared/config/entity.catalog';
import type { OutgoingMessage } from '../../shared/queue/job-queue.port';
import { pullJobSchema, type PullJob } from '../../shared/queue/pull-job.schema';
import { InMemoryRecordStore } from '../../shared/sync/in-memory.record-store';
import { InMemoryCheckpointStore, InMemoryErrorSink } from '../../shared/sync/in-memory.sync-state';
import {
  errorRetryRequestSchema,
  ManualActionError,
  ManualActions,
} from '../../shared/sync/manual-actions.use-case';
import { pushRetryMessageSchema } from '../../shared/sync/push-retry.message';

const ROW_A = '00000000-0000-4000-8000-00000000000a';
const ROW_B = '00000000-0000-4000-8000-00000000000b';

async function setup() {
  const sent: { queue: string; message: OutgoingMessage }[] = [];
  const errors = new InMemoryErrorSink();
  const checkpoints = new InMemoryCheckpointStore();
  const people = new InMemoryRecordStore('person');
  await people.write([{ id: 'p1', entity: 'person' } as never, { id: 'p2', entity: 'person' } as never]);
  const actions = new ManualActions({
    catalog: new EntityCatalog(),
    enabledEntities: ['lead', 'contact'],
    queue: {
      send: async (queue, messages) => void sent.push(...messages.map((message) => ({ queue, message }))),
      close: async () => undefined,
    },
    pullQueue: 'pull-jobs',
    pushRetryQueue: 'push-retry',
    errors,
    checkpoints,
    people,
    now: () => new Date('2026-03-01T10:00:00.000Z'),
    newId: () => 'corr-1',
  });
  const at = '2026-03-01T09:00:00.000Z';
  const jobs = () =>
    sent.filter((s) => s.queue === 'pull-jobs').map((s) => pullJobSchema.parse(s.message.body));
  return { actions, sent, errors, checkpoints, at, jobs };
}

describe('operator actions', () => {
  it('queues a resync of an entity in its own session with a valid job message', async () => {
    const { actions, sent } = await setup();
    const job = (await actions.requestPull('contact', 'resync')) as PullJob;
    expect(job).toMatchObject({ entity: 'contact', reason: 'resync', correlationId: 'corr-1', sequence: 0 });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.queue).toBe('pull-jobs');
    expect(sent[0]?.message).toMatchObject({ sessionId: 'contact', correlationId: 'corr-1' });
    expect(pullJobSchema.parse(sent[0]?.message.body)).toEqual(job);
    expect(((await actions.requestPull('lead', 'now')) as PullJob).reason).toBe('manual');
  });

  it('refuses unknown and disabled entities without queueing anything', async () => {
    const { actions, sent } = await setup();
    await expect(actions.requestPull('nonsense', 'now')).rejects.toMatchObject({ code: 'unknown_entity' });
    await expect(actions.requestPull('account', 'now')).rejects.toBeInstanceOf(ManualActionError);
    await expect(actions.requestPull('account', 'now')).rejects.toMatchObject({ code: 'entity_not_enabled' });
    expect(sent).toEqual([]);
  });

  it('pauses an entity at once (even one never synced), and resume queues a pull that clears it', async () => {
    const { actions, checkpoints, jobs } = await setup();
    expect(await actions.requestPull('lead', 'pause')).toEqual({ entity: 'lead', paused: true });
    expect((await checkpoints.get('lead'))?.paused).toMatchObject({ code: 'paused_by_operator' });
    // Pausing twice changes nothing.
    await actions.requestPull('lead', 'pause');
    expect(jobs()).toEqual([]);
    expect(((await actions.requestPull('lead', 'resume')) as PullJob).reason).toBe('manual');
    expect(jobs().map((j) => j.reason)).toEqual(['manual']);
  });

  it('retries errors by id: rows are read again in their session, people pushed again, unknown ids listed', async () => {
    const { actions, errors, at, jobs, sent } = await setup();
    await errors.record({
      entity: 'contact',
      recordId: ROW_A,
      operation: 'pull',
      code: 'invalid_row',
      message: 'm',
      at,
    });
    await errors.record({
      entity: 'contact',
      recordId: ROW_B,
      operation: 'pull',
      code: 'invalid_row',
      message: 'm',
      at,
    });
    await errors.record({
      entity: 'lead',
      recordId: 'p1',
      operation: 'push',
      code: 'validation',
      message: 'm',
      at,
    });
    await errors.record({
      entity: 'queue',
      recordId: 'msg-1',
      operation: 'queue',
      code: 'invalid_message',
      message: 'm',
      at,
    });
    const ids = errors.list().map((e) => e.id);
    const answer = await actions.retryErrors(
      errorRetryRequestSchema.parse({ errorIds: [...ids, 'no-such-error'] }),
    );
    expect(answer.unknown).toEqual(['no-such-error']);
    expect(answer.skipped).toEqual([
      { id: expect.stringMatching(/^queue:/), reason: expect.stringMatching(/cannot be retried/) },
    ]);
    expect(answer.queued.sort()).toEqual(ids.filter((id) => !id.startsWith('queue:')).sort());
    // One reread job with both rows, in the contact session.
    expect(jobs()).toEqual([
      expect.objectContaining({ entity: 'contact', reason: 'reread', rowIds: [ROW_A, ROW_B] }),
    ]);
    const retry = sent.find((s) => s.queue === 'push-retry');
    expect(pushRetryMessageSchema.parse(retry?.message.body).persons).toEqual([
      { id: 'p1', signature: 'manual' },
    ]);
  });

  it('retries every open error of an entity, and refuses an entity not synced here', async () => {
    const { actions, errors, at, jobs } = await setup();
    await errors.record({
      entity: 'lead',
      recordId: ROW_A,
      operation: 'pull',
      code: 'invalid_row',
      message: 'm',
      at,
    });
    await errors.resolve('lead', [ROW_A], at, 'pull');
    await errors.record({
      entity: 'lead',
      recordId: ROW_B,
      operation: 'pull',
      code: 'invalid_row',
      message: 'm',
      at,
    });
    const answer = await actions.retryErrors({ all: true, entity: 'lead' });
    expect(answer.queued).toHaveLength(1);
    expect(jobs()[0]?.rowIds).toEqual([ROW_B]);
    await expect(actions.retryErrors({ all: true, entity: 'account' })).rejects.toMatchObject({
      code: 'entity_not_enabled',
    });
  });

  it('queues a push retry as a fresh first attempt, for people that exist only', async () => {
    const { actions, sent } = await setup();
    expect(await actions.retryParkedPushes(['p1', 'p2', 'made-up'])).toEqual({
      queued: ['p1', 'p2'],
      unknown: ['made-up'],
    });
    expect(sent[0]?.queue).toBe('push-retry');
    const body = pushRetryMessageSchema.parse(sent[0]?.message.body);
    expect(body).toMatchObject({ attempt: 1, persons: [{ id: 'p1' }, { id: 'p2' }] });
    expect(await actions.retryParkedPushes(['made-up'])).toEqual({ queued: [], unknown: ['made-up'] });
    expect(sent).toHaveLength(1);
  });

  it('takes only document ids and strict bodies', () => {
    expect(errorRetryRequestSchema.safeParse({ errorIds: ['../../etc/passwd'] }).success).toBe(false);
    expect(errorRetryRequestSchema.safeParse({ errorIds: ['a#b'] }).success).toBe(false);
    expect(errorRetryRequestSchema.safeParse({ errorIds: [] }).success).toBe(false);
    expect(errorRetryRequestSchema.safeParse({ errorIds: ['x'], extra: 1 }).success).toBe(false);
    expect(errorRetryRequestSchema.safeParse({ all: true, entity: 'lead' }).success).toBe(true);
  });
});
