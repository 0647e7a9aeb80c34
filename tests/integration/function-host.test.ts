import { ServiceBusClient } from '@azure/service-bus';
import type { Container } from '@azure/cosmos';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import { RUN_TTL_SECONDS, RunHistoryRepository } from '../../shared/cosmos/run-history.repository';
import { useHostStack } from './host-stack.fixture';
import { waitFor } from './polling.helpers';

describe('the functions on the local stack, driven by the host harness', () => {
  const stack = useHostStack({
    records: 40,
    env: { SYNC_ENTITIES: 'lead,contact,account', SYNC_SCHEDULE: '0 */5 * * * *' },
  });
  const database = () => stack().database;

  const count = async (container: Container, where = 'true') => {
    const { resources } = await container.items
      .query<number>(`SELECT VALUE COUNT(1) FROM c WHERE ${where}`)
      .fetchAll();
    return resources[0] ?? 0;
  };

  it('loads every function with the bindings the Functions host would index', () => {
    const host = stack().host;
    if (host === undefined) throw new Error('no host');
    const byName = Object.fromEntries(host.host.registrations.map((r) => [r.metadata.name, r.metadata]));
    expect(Object.keys(byName).sort()).toEqual([
      'audit',
      'console',
      'console-assets',
      'errors',
      'errors-retry',
      'notify',
      'person',
      'person-forget',
      'person-owner',
      'person-sync-to-dynamics',
      'person-tasks',
      'person-unforget',
      'persons',
      'puller',
      'push-retry',
      'push-retry-request',
      'pusher',
      'scheduler',
      'status',
      'sync-request',
      'validate',
      'verify',
      'verify-request',
    ]);
    const trigger = (name: string) =>
      Object.values(byName[name]?.bindings ?? {}).find((b) => b.direction === 'in');
    expect(trigger('scheduler')).toMatchObject({ type: 'timerTrigger', schedule: '0 */5 * * * *' });
    expect(trigger('puller')).toMatchObject({
      type: 'serviceBusTrigger',
      queueName: 'pull-jobs',
      connection: 'SERVICEBUS',
      isSessionsEnabled: true,
    });
    expect(trigger('status')).toMatchObject({ type: 'httpTrigger', route: 'status', methods: ['GET'] });
  });

  it('a timer tick pulls every enabled entity into Cosmos through Service Bus sessions; a doubled tick adds nothing', async () => {
    const host = stack().host;
    if (host === undefined) throw new Error('no host');
    await host.timers.tick('scheduler');
    await host.timers.tick('scheduler'); // same slot: duplicate detection drops these three jobs
    const runs = new RunHistoryRepository(database().container(CONTAINERS.syncState.id));
    for (const entity of ['lead', 'contact', 'account']) {
      const run = await waitFor(async () => {
        const [latest] = await runs.latest(entity, 1);
        return latest?.status === 'succeeded' ? latest : undefined;
      }, `a finished run of ${entity}`);
      expect(run.jobMessageId).toMatch(new RegExp(`^pull:${entity}:\\d{4}-`));
      // Run history expires by itself (the sync-state container has per-item TTL on).
      expect(run.ttl).toBe(RUN_TTL_SECONDS);
    }
    expect(stack().broker.counters('pull-jobs').duplicatesDropped).toBe(3);
    // A run is recorded as succeeded inside the invocation, just before the puller settles its message
    // and returns; the host counts the invocation only then.
    await waitFor(async () => {
      const stats = host.host.stats.get('puller');
      return stats !== undefined && stats.succeeded + stats.failed >= 3 ? stats : undefined;
    }, 'three finished puller invocations');
    expect(host.host.stats.get('puller')).toEqual({ succeeded: 3, failed: 0 });

    const contacts = stack().dataverse.control.count('contact');
    const accounts = stack().dataverse.control.count('account');
    expect(await count(database().container(CONTAINERS.accounts.id))).toBeGreaterThan(0);
    expect(await count(database().container(CONTAINERS.accounts.id))).toBeLessThanOrEqual(accounts);
    expect(await count(database().container(CONTAINERS.people.id), "c.type = 'contact'")).toBeGreaterThan(0);
    expect(await count(database().container(CONTAINERS.people.id), "c.type = 'contact'")).toBeLessThanOrEqual(
      contacts,
    );
    expect(
      stack().logs.some((l) => l.functionName === 'scheduler' && /scheduled pull jobs/.test(l.message)),
    ).toBe(true);
    expect(stack().logs.some((l) => l.functionName === 'puller' && /pull job finished/.test(l.message))).toBe(
      true,
    );
    expect(stack().hostErrors).toEqual([]);
  });

  it('never runs two jobs of one entity at once: the session gives them to one receiver, in order', async () => {
    const client = new ServiceBusClient(stack().broker.connectionString);
    const sender = client.createSender('pull-jobs');
    const slot = new Date().toISOString();
    const jobs = [0, 1, 2, 3].map((sequence) => ({
      body: {
        kind: 'pull',
        entity: 'contact',
        reason: 'manual',
        correlationId: `exclusive-${sequence}`,
        slot,
        requestedAt: slot,
        sequence,
      },
      sessionId: 'contact',
      messageId: `exclusive-${sequence}`,
    }));
    await sender.sendMessages(jobs);
    await sender.close();
    await client.close();
    const runs = new RunHistoryRepository(database().container(CONTAINERS.syncState.id));
    const done = await waitFor(async () => {
      const found = (await runs.latest('contact', 20)).filter((r) =>
        r.correlationId.startsWith('exclusive-'),
      );
      return found.length === 4 && found.every((r) => r.finishedAt !== undefined) ? found : undefined;
    }, 'four finished contact runs');
    const ordered = [...done].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    expect(ordered.map((r) => r.correlationId)).toEqual([
      'exclusive-0',
      'exclusive-1',
      'exclusive-2',
      'exclusive-3',
    ]);
    for (let i = 1; i < ordered.length; i++) {
      // Each run starts only after the previous one of the same entity has finished.
      expect(ordered[i]!.startedAt >= ordered[i - 1]!.finishedAt!).toBe(true);
    }
  });

  it('serves HTTP functions under /api on loopback and answers unknown routes with 404', async () => {
    const port = stack().host?.httpPort;
    const response = await fetch(`http://127.0.0.1:${port}/api/status`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      entities: { entity: string; lastRun: { status: string } | null }[];
    };
    expect(body.entities.map((e) => e.entity)).toEqual(['lead', 'contact', 'account']);
    expect(body.entities.map((e) => e.lastRun?.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect((await fetch(`http://127.0.0.1:${port}/api/nothing-here`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/api/status`, { method: 'DELETE' })).status).toBe(405);
  });

  it('a malformed job message becomes a visible sync error and is dead-lettered with its reason, not redelivered', async () => {
    const client = new ServiceBusClient(stack().broker.connectionString);
    const sender = client.createSender('pull-jobs');
    await sender.sendMessages({
      body: { kind: 'pull', entity: 'Not An Entity' },
      sessionId: 'bad',
      messageId: 'bad-1',
    });
    await sender.close();
    await client.close();
    const errorsContainer = database().container(CONTAINERS.syncErrors.id);
    const recorded = await waitFor(async () => {
      const { resources } = await errorsContainer.items
        .query<{ code: string; message: string; recordId: string }>(
          "SELECT * FROM c WHERE c.recordId = 'bad-1'",
        )
        .fetchAll();
      return resources[0];
    }, 'the sync error of the malformed job');
    expect(recorded.code).toBe('invalid_message');
    expect(recorded.message).toMatch(/pull job bad-1 rejected: .*entity/);
    // The error is recorded inside the invocation, before the puller settles the message.
    await waitFor(
      async () => (stack().broker.deadLetters('pull-jobs').length > 0 ? true : undefined),
      'the dead-lettered job',
    );
    expect(stack().broker.counters('pull-jobs').active).toBe(0);
    const [dead, ...others] = stack().broker.deadLetters('pull-jobs');
    expect(others).toEqual([]);
    expect(dead).toMatchObject({ messageId: 'bad-1', sessionId: 'bad', reason: 'InvalidPullJob' });
    expect(dead?.description).toMatch(/^entity: must be a Dataverse logical name; reason: /);
  });

  describe('operator actions over HTTP', () => {
    const url = (path: string) => `http://127.0.0.1:${stack().host?.httpPort}/api/${path}`;
    const post = (path: string, body: string) =>
      fetch(url(path), { method: 'POST', body, headers: { 'content-type': 'application/json' } });

    it('resyncs an entity on request: the job runs in the entity session and finishes', async () => {
      const response = await post('sync/account', JSON.stringify({ mode: 'resync' }));
      expect(response.status).toBe(202);
      const { job } = (await response.json()) as { job: { correlationId: string; reason: string } };
      expect(job.reason).toBe('resync');
      const runs = new RunHistoryRepository(database().container(CONTAINERS.syncState.id));
      const run = await waitFor(async () => {
        const found = (await runs.latest('account', 20)).find((r) => r.correlationId === job.correlationId);
        return found?.status === 'succeeded' ? found : undefined;
      }, 'the resync run');
      expect(run.reason).toBe('resync');
    });

    it('answers bad requests with 400 or 404 and a reason, and enqueues nothing', async () => {
      const sentBefore = stack().broker.counters('pull-jobs').sent;
      const unknown = await post('sync/nonsense', '{}');
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ error: { code: 'unknown_entity' } });
      const notEnabled = await post('sync/opportunity', '{}');
      expect(notEnabled.status).toBe(404);
      expect(await notEnabled.json()).toMatchObject({ error: { code: 'entity_not_enabled' } });
      const notJson = await post('sync/contact', '{"mode":');
      expect(notJson.status).toBe(400);
      expect(await notJson.json()).toMatchObject({ error: { code: 'invalid_json' } });
      const badMode = await post('sync/contact', JSON.stringify({ mode: 'everything' }));
      expect(badMode.status).toBe(400);
      expect(await badMode.json()).toMatchObject({
        error: { code: 'invalid_request', details: [{ path: 'mode' }] },
      });
      const badRetry = await post('push/retry', JSON.stringify({ personIds: [] }));
      expect(badRetry.status).toBe(400);
      expect((await fetch(url('errors?limit=lots'))).status).toBe(400);
      expect(stack().broker.counters('pull-jobs').sent).toBe(sentBefore);
    });

    it('lists sync errors newest first, across entities or for one', async () => {
      const all = await fetch(url('errors'));
      expect(all.status).toBe(200);
      const { errors } = (await all.json()) as { errors: { code: string; recordId: string; at: string }[] };
      expect(errors.find((e) => e.recordId === 'bad-1')?.code).toBe('invalid_message');
      expect([...errors].sort((a, b) => b.at.localeCompare(a.at))).toEqual(errors);
      const none = (await (await fetch(url('errors?entity=account&limit=5'))).json()) as {
        errors: unknown[];
      };
      expect(none.errors).toEqual([]);
    });

    it('queues a retry of parked pushes for people that exist, and lists the ids that name nobody', async () => {
      await stack().database.container('people').items.upsert({ id: 'p-1', entity: 'person' });
      const sentBefore = stack().broker.counters('push-retry').sent;
      const response = await post('push/retry', JSON.stringify({ personIds: ['p-1', 'made-up'] }));
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ queued: ['p-1'], unknown: ['made-up'] });
      expect(stack().broker.counters('push-retry').sent).toBe(sentBefore + 1);
      // Ids that cannot be document ids are refused before anything is looked up or queued.
      const bad = await post('push/retry', JSON.stringify({ personIds: ['../../etc/passwd', 'a#b'] }));
      expect(bad.status).toBe(400);
      expect(stack().broker.counters('push-retry').sent).toBe(sentBefore + 1);
    });
  });
});
