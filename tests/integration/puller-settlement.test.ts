import type { ServiceBusMessage } from '@azure/service-bus';
import { LOCAL_QUEUES } from '../../local/stack';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import { RunHistoryRepository } from '../../shared/cosmos/run-history.repository';
import { sendToQueue, useHostStack } from './host-stack.fixture';
import { waitFor } from './polling.helpers';

const MAX_DELIVERIES = 3;

/**
 * The puller is bound with `sdkBinding: true` and settles its own messages through the host's
 * Settlement service: here the harness serves that service over gRPC on 127.0.0.1 and settles with
 * the real SDK receiver against the local broker.
 */
describe('the puller settles its own messages (SDK binding, autoCompleteMessages off)', () => {
  const stack = useHostStack({
    records: 20,
    env: { SYNC_ENTITIES: 'lead,contact,account', SYNC_SCHEDULE: '0 0 0 1 1 *' },
    // Fewer deliveries than the queue's usual 10, so dead-lettering after retries shows quickly.
    queues: LOCAL_QUEUES.map((q) =>
      q.name === 'pull-jobs' ? { ...q, maxDeliveryCount: MAX_DELIVERIES } : q,
    ),
  });
  const runs = () => new RunHistoryRepository(stack().database.container(CONTAINERS.syncState.id));

  const send = (messages: ServiceBusMessage[]) => sendToQueue(stack(), 'pull-jobs', messages);

  const job = (correlationId: string) => {
    const now = new Date().toISOString();
    return {
      kind: 'pull',
      entity: 'account',
      reason: 'manual',
      correlationId,
      slot: now,
      requestedAt: now,
      sequence: 0,
    };
  };

  it('marks the trigger as an SDK binding that the function settles itself', () => {
    const puller = stack().host?.host.registration('puller').metadata;
    const trigger = Object.values(puller?.bindings ?? {}).find((b) => b.direction === 'in');
    expect(trigger).toMatchObject({
      type: 'serviceBusTrigger',
      isSessionsEnabled: true,
      autoCompleteMessages: false,
      properties: { supportsDeferredBinding: 'true' },
    });
  });

  it('dead-letters malformed jobs with their reason, records them as sync errors, and still runs the valid job of the session', async () => {
    await send([
      // Valid JSON, not a pull job.
      {
        body: { kind: 'pull', entity: 'account', reason: 'whenever' },
        sessionId: 'account',
        messageId: 'bad-shape',
      },
      // A well-formed job for an entity the catalog does not know.
      {
        body: { ...job('unknown-entity'), entity: 'nosuchentity' },
        sessionId: 'account',
        messageId: 'bad-entity',
      },
      // Not JSON at all: raw bytes.
      { body: Buffer.from('this is not json {'), sessionId: 'account', messageId: 'bad-bytes' },
      {
        body: job('valid-after-bad'),
        sessionId: 'account',
        messageId: 'good-1',
        contentType: 'application/json',
      },
    ]);
    const run = await waitFor(async () => {
      const found = (await runs().latest('account', 10)).find((r) => r.correlationId === 'valid-after-bad');
      return found?.status === 'succeeded' ? found : undefined;
    }, 'the valid job after the malformed ones');
    expect(run.jobMessageId).toBe('good-1');
    await waitFor(
      async () => (stack().broker.counters('pull-jobs').active === 0 ? true : undefined),
      'an empty pull-jobs queue',
    );

    const dead = stack().broker.deadLetters('pull-jobs');
    expect(dead.map((d) => d.messageId).sort()).toEqual(['bad-bytes', 'bad-entity', 'bad-shape']);
    for (const d of dead) {
      expect(d.reason).toBe('InvalidPullJob');
      expect(d.sessionId).toBe('account');
      // Dead-lettered at the first delivery: redelivering a malformed job cannot help.
      expect(d.description?.length).toBeLessThanOrEqual(1024);
    }
    const description = (id: string) => dead.find((d) => d.messageId === id)?.description ?? '';
    expect(description('bad-shape')).toMatch(/^reason: Invalid option: expected one of/);
    expect(description('bad-shape')).toMatch(/correlationId: /);
    expect(description('bad-entity')).toMatch(/unknown entity "nosuchentity"/);
    expect(description('bad-bytes')).toBe('(body): not JSON (text of 18 characters)');

    const response = await fetch(`http://127.0.0.1:${stack().host?.httpPort}/api/errors?limit=50`);
    const { errors } = (await response.json()) as {
      errors: { recordId: string; code: string; message: string; entity: string }[];
    };
    const recorded = errors.filter((e) => e.code === 'invalid_message').map((e) => e.recordId);
    expect(recorded.sort()).toEqual(['bad-bytes', 'bad-entity', 'bad-shape']);
    expect(errors.find((e) => e.recordId === 'bad-entity')?.message).toMatch(
      /pull job bad-entity rejected: unknown entity "nosuchentity"/,
    );
    // The host counts an invocation once the function has returned, which can be after its run was saved.
    await waitFor(
      async () => ((stack().host?.host.stats.get('puller')?.succeeded ?? 0) >= 4 ? true : undefined),
      'the four invocations counted',
    );
    expect(stack().host?.host.stats.get('puller')).toEqual({ succeeded: 4, failed: 0 });
    expect(stack().hostErrors).toEqual([]);
  });

  it('abandons a job whose failure is retryable, so it comes back at once, and dead-letters it past max delivery count', async () => {
    // A Retry-After longer than the governor waits in process: the pull gives up with a retryable
    // error, and the job must be redelivered by Service Bus (long before the 5-minute lock expires).
    stack().dataverse.control.failNext({
      count: 100,
      status: 429,
      retryAfterSeconds: 600,
      pathPattern: '^/api/data/v9\\.2/accounts',
    });
    const failedBefore = stack().host?.host.stats.get('puller')?.failed ?? 0;
    const started = Date.now();
    try {
      await send([{ body: job('retry-me'), sessionId: 'account', messageId: 'retry-1' }]);
      const dead = await waitFor(
        async () =>
          stack()
            .broker.deadLetters('pull-jobs')
            .find((d) => d.messageId === 'retry-1'),
        'the job in the dead-letter queue',
      );
      expect(dead.reason).toBe('MaxDeliveryCountExceeded');
      expect(dead.deliveryCount).toBe(MAX_DELIVERIES);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      stack().dataverse.control.clearFaults();
    }
    // Every delivery ran the function, which failed and abandoned the message; each came back with
    // a higher delivery count.
    expect((stack().host?.host.stats.get('puller')?.failed ?? 0) - failedBefore).toBe(MAX_DELIVERIES);
    const deliveries = stack()
      .logs.filter((l) => l.functionName === 'puller' && /pull job failed/.test(l.message))
      .map((l) => /"deliveryCount":(\d+)/.exec(l.message)?.[1])
      .filter((n) => n !== undefined)
      .map(Number);
    expect(deliveries).toHaveLength(MAX_DELIVERIES);
    expect([...deliveries].sort((a, b) => a - b)).toEqual(deliveries);
    expect(new Set(deliveries).size).toBe(MAX_DELIVERIES);
    const run = (await runs().latest('account', 10)).find((r) => r.correlationId === 'retry-me');
    expect(run?.status).toBe('failed');
    expect(stack().broker.counters('pull-jobs').active).toBe(0);
  });
});
