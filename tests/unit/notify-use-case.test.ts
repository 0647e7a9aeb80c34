import type { JobQueue, OutgoingMessage } from '../../shared/queue/job-queue.port';
import { executionContextSchema } from '../../shared/domain/notification.model';
import { NotifyUseCase } from '../../shared/sync/notify.use-case';

const ORG = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const APP = '11111111-2222-4333-8444-555555555555';
const context = executionContextSchema.parse({
  MessageName: 'Update',
  PrimaryEntityName: 'contact',
  PrimaryEntityId: '5b2d9a0e-0c1f-4c57-9d3a-000000000001',
  OrganizationId: ORG,
  InitiatingUserId: '99999999-2222-4333-8444-555555555555',
  Depth: 1,
});

/** Records what is sent; `failNext` makes the next send fail, as Service Bus may. */
class RecordingQueue implements JobQueue {
  sent: OutgoingMessage[] = [];
  failNext = false;
  async send(_queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (this.failNext) {
      this.failNext = false;
      throw new Error('service bus unavailable');
    }
    this.sent.push(...messages);
  }
  async close(): Promise<void> {}
}

function useCase(queue: JobQueue, at: () => Date) {
  let whoAmICalls = 0;
  const notify = new NotifyUseCase({
    identity: {
      whoAmI: async () => {
        whoAmICalls += 1;
        return { organizationId: ORG, userId: APP };
      },
    },
    organizationId: undefined,
    enabledEntities: ['contact'],
    queue,
    pullQueue: 'pull-jobs',
    windowMs: 2000,
    now: at,
  });
  return { notify, whoAmICalls: () => whoAmICalls };
}

describe('NotifyUseCase', () => {
  it('sends the opening and the closing job of a window once, however many notifications arrive at once', async () => {
    const queue = new RecordingQueue();
    const { notify, whoAmICalls } = useCase(queue, () => new Date('2026-01-01T00:00:00.500Z'));
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => notify.handle(context)));
    expect(outcomes.every((o) => 'status' in o && o.status === 'queued')).toBe(true);
    expect(queue.sent.map((m) => [m.messageId, m.sessionId, m.scheduledAt?.toISOString()])).toEqual([
      ['pull:contact:2026-01-01T00:00:02.000Z:notify:1', 'contact', undefined],
      ['pull:contact:2026-01-01T00:00:02.000Z:notify:0', 'contact', '2026-01-01T00:00:02.000Z'],
    ]);
    expect(whoAmICalls()).toBe(1);
  });

  it('sends again after a failed send, so the retried notification is not lost', async () => {
    const queue = new RecordingQueue();
    const { notify } = useCase(queue, () => new Date('2026-01-01T00:00:00.500Z'));
    queue.failNext = true;
    await expect(notify.handle(context)).rejects.toThrow('service bus unavailable');
    await notify.handle(context);
    expect(queue.sent.map((m) => m.messageId)).toContain('pull:contact:2026-01-01T00:00:02.000Z:notify:1');
  });

  it('starts a new pair of jobs in the next window', async () => {
    const queue = new RecordingQueue();
    let now = new Date('2026-01-01T00:00:00.500Z');
    const { notify } = useCase(queue, () => now);
    await notify.handle(context);
    now = new Date('2026-01-01T00:00:02.100Z');
    await notify.handle(context);
    expect(queue.sent).toHaveLength(4);
  });

  it('queues nothing for a refused or skipped notification', async () => {
    const queue = new RecordingQueue();
    const { notify } = useCase(queue, () => new Date('2026-01-01T00:00:00.500Z'));
    expect(await notify.handle({ ...context, PrimaryEntityName: 'task' })).toMatchObject({ kind: 'refuse' });
    expect(await notify.handle({ ...context, InitiatingUserId: APP })).toMatchObject({ kind: 'ignore' });
    expect(queue.sent).toEqual([]);
  });
});
