import { EntityCatalog } from '../../shared/config/entity.catalog';
import type { SyncErrorRecord } from '../../shared/domain/sync-error.model';
import type { OutgoingMessage } from '../../shared/queue/job-queue.port';
import { pullJobSchema } from '../../shared/queue/pull-job.schema';
import {
  ManualActionError,
  ManualActions,
  errorQuerySchema,
} from '../../shared/sync/manual-actions.use-case';
import { pushRetryMessageSchema } from '../../shared/sync/push-retry.message';

const error = (entity: string, at: string): SyncErrorRecord => ({
  id: `${entity}-${at}`,
  entity,
  type: 'sync-error',
  recordId: null,
  operation: 'pull',
  direction: 'dynamics-to-marketing',
  code: 'validation',
  message: 'bad',
  at,
});

function setup(stored: Record<string, SyncErrorRecord[]> = {}) {
  const sent: { queue: string; message: OutgoingMessage }[] = [];
  const asked: string[] = [];
  const actions = new ManualActions({
    catalog: new EntityCatalog(),
    enabledEntities: ['lead', 'contact'],
    queue: {
      send: async (queue, messages) => void sent.push(...messages.map((message) => ({ queue, message }))),
      close: async () => undefined,
    },
    pullQueue: 'pull-jobs',
    pushRetryQueue: 'push-retry',
    errors: {
      list: async (entity, limit, includeResolved) => {
        asked.push(entity);
        return (stored[entity] ?? [])
          .filter((e) => includeResolved === true || e.resolvedAt === undefined)
          .slice(0, limit);
      },
    },
    now: () => new Date('2026-03-01T10:00:00.000Z'),
    newId: () => 'corr-1',
  });
  return { actions, sent, asked };
}

describe('operator actions', () => {
  it('queues a resync of an entity in its own session with a valid job message', async () => {
    const { actions, sent } = setup();
    const job = await actions.requestPull('contact', 'resync');
    expect(job).toMatchObject({ entity: 'contact', reason: 'resync', correlationId: 'corr-1', sequence: 0 });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.queue).toBe('pull-jobs');
    expect(sent[0]?.message).toMatchObject({ sessionId: 'contact', correlationId: 'corr-1' });
    expect(pullJobSchema.parse(sent[0]?.message.body)).toEqual(job);
    expect((await actions.requestPull('lead', 'now')).reason).toBe('manual');
  });

  it('refuses unknown and disabled entities without queueing anything', async () => {
    const { actions, sent } = setup();
    await expect(actions.requestPull('nonsense', 'now')).rejects.toMatchObject({ code: 'unknown_entity' });
    await expect(actions.requestPull('account', 'now')).rejects.toBeInstanceOf(ManualActionError);
    await expect(actions.requestPull('account', 'now')).rejects.toMatchObject({ code: 'entity_not_enabled' });
    expect(sent).toEqual([]);
  });

  it('merges errors across enabled entities, people and the queue, newest first, up to the limit', async () => {
    const { actions, asked } = setup({
      lead: [error('lead', '2026-03-01T09:00:00Z')],
      contact: [error('contact', '2026-03-01T09:30:00Z'), error('contact', '2026-03-01T08:00:00Z')],
      queue: [error('queue', '2026-03-01T09:45:00Z')],
    });
    const list = await actions.listErrors(errorQuerySchema.parse({ limit: '3' }));
    expect(list.map((e) => e.at)).toEqual([
      '2026-03-01T09:45:00Z',
      '2026-03-01T09:30:00Z',
      '2026-03-01T09:00:00Z',
    ]);
    expect(asked.sort()).toEqual(['contact', 'lead', 'person', 'queue']);
    expect(await actions.listErrors(errorQuerySchema.parse({ entity: 'lead' }))).toHaveLength(1);
    expect(errorQuerySchema.safeParse({ entity: 'Bad Entity' }).success).toBe(false);
  });

  it('lists open errors unless asked for resolved ones too', async () => {
    const resolved = { ...error('lead', '2026-03-01T09:50:00Z'), resolvedAt: '2026-03-01T09:55:00Z' };
    const { actions } = setup({ lead: [resolved, error('lead', '2026-03-01T09:00:00Z')] });
    const open = await actions.listErrors(errorQuerySchema.parse({ entity: 'lead' }));
    expect(open.map((e) => e.at)).toEqual(['2026-03-01T09:00:00Z']);
    const all = await actions.listErrors(errorQuerySchema.parse({ entity: 'lead', status: 'all' }));
    expect(all.map((e) => e.at)).toEqual(['2026-03-01T09:50:00Z', '2026-03-01T09:00:00Z']);
    expect(errorQuerySchema.safeParse({ status: 'closed' }).success).toBe(false);
  });

  it('queues a manual push retry as a fresh first attempt', async () => {
    const { actions, sent } = setup();
    await actions.retryParkedPushes(['p1', 'p2']);
    expect(sent[0]?.queue).toBe('push-retry');
    const body = pushRetryMessageSchema.parse(sent[0]?.message.body);
    expect(body).toMatchObject({ attempt: 1, persons: [{ id: 'p1' }, { id: 'p2' }] });
  });
});
