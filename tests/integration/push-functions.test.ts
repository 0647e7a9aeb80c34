import type { Container } from '@azure/cosmos';
import { ServiceBusClient } from '@azure/service-bus';
import { closeServices } from '../../functions/app.services';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { createAppServices, type AppServices } from '../../shared/app/app.services';
import { main, type CliIo } from '../../shared/cli/cli';
import type { PushCommandIo } from '../../shared/cli/push.command';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import { RecordRepository } from '../../shared/cosmos/record.repository';
import { planPush, pushStateOf, withPushState } from '../../shared/domain/push.planner';
import type { PersonRecord } from '../../shared/domain/record.model';
import { manualRetryMessage } from '../../shared/sync/push-retry.message';
import { pushable } from './push-stack.fixture';
import { quietLog } from './pull-stack.fixture';
import { waitFor as waitForValue } from './polling.helpers';
import { buildEntityProfile } from '../../shared/domain/entity.profile';

type Row = Record<string, unknown>;

const waitFor = <T>(probe: () => Promise<T | undefined>, what: string): Promise<T> =>
  waitForValue(probe, what, 20_000, 50);

async function pullPeople(services: AppServices): Promise<void> {
  for (const entity of ['lead', 'contact']) {
    const result = await services.sync.pullEntity(entity, {}, { log: quietLog });
    expect(result.outcome).toBe('done');
  }
}

/** Waits until the simulator's `table` row `id` holds `jobtitle`. */
const jobTitleArrives = (
  stack: LocalStack,
  table: 'lead' | 'contact',
  id: string,
  jobtitle: string,
  what: string,
) =>
  waitFor(
    async () => ((stack.dataverse.control.getRow(table, id) as Row).jobtitle === jobtitle ? true : undefined),
    what,
  );

const everyone = async (people: Container): Promise<PersonRecord[]> =>
  (await people.items.query<PersonRecord>('SELECT * FROM c').fetchAll()).resources;

const strip = (doc: object) => Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_')));

describe('push on the functions host: the Cosmos trigger and the push-retry queue', () => {
  let stack: LocalStack;
  let services: AppServices;
  let reader: RecordRepository;
  const hostErrors: string[] = [];
  const people = () => services.cosmos.database('marketing').container(CONTAINERS.people.id);

  beforeAll(async () => {
    stack = await startLocalStack({
      records: 30,
      seed: 61,
      env: { SYNC_ENTITIES: 'lead,contact', SYNC_SCHEDULE: '0 0 0 * * *' },
      host: {
        startTimers: false,
        cosmosPollIntervalMs: 200,
        onError: (name, error) => hostErrors.push(`${name}: ${String(error)}`),
      },
    });
    services = await createAppServices(stack.env);
    reader = new RecordRepository(people(), { kind: 'person' });
    await pullPeople(services);
  });
  afterAll(async () => {
    await stack?.stop();
    await closeServices();
    await services?.close();
  });

  it('registers the pusher on the people container with a lease container and a retry policy', () => {
    const meta = stack.host?.host.registrations.find((r) => r.metadata.name === 'pusher')?.metadata;
    const trigger = Object.values(meta?.bindings ?? {}).find((b) => b.direction === 'in');
    expect(trigger).toMatchObject({
      type: 'cosmosDBTrigger',
      connection: 'COSMOS',
      databaseName: 'marketing',
      containerName: 'people',
      leaseContainerName: 'leases',
    });
    expect(meta?.retryOptions).toMatchObject({ strategy: 'exponentialBackoff' });
    const retry = stack.host?.host.registrations.find((r) => r.metadata.name === 'push-retry')?.metadata;
    expect(Object.values(retry?.bindings ?? {}).find((b) => b.direction === 'in')).toMatchObject({
      type: 'serviceBusTrigger',
      queueName: 'push-retry',
    });
  });

  it('an edit written to Cosmos arrives in Dynamics and its agreed values are recorded', async () => {
    const all = await everyone(people());
    const person = pushable(all, 'lead')[0] as PersonRecord;
    const leadId = String(person.dynamics.leadId);
    const started = Date.now();
    await people()
      .item(person.id, person.id)
      .replace({ ...strip(person), jobTitle: 'Arrived Via Trigger' });
    await jobTitleArrives(stack, 'lead', leadId, 'Arrived Via Trigger', 'the edit in Dynamics');
    expect(Date.now() - started).toBeLessThan(5000);
    const recorded = await waitFor(async () => {
      const doc = (await reader.read(person.id)) as PersonRecord;
      return doc.sync.agreed.jobTitle === 'Arrived Via Trigger' ? doc : undefined;
    }, 'the agreed values');
    expect(recorded.jobTitle).toBe('Arrived Via Trigger');
    expect(hostErrors).toEqual([]);
  });

  it('a parked edit retried through the push-retry queue reaches Dynamics', async () => {
    const all = await everyone(people());
    const person = pushable(all, 'contact')[0] as PersonRecord;
    const contactId = String(person.dynamics.contactId);
    const edited = { ...person, jobTitle: 'Parked Then Retried' };
    const profile = buildEntityProfile(services.catalog.get('contact'), services.syncConfig);
    const plan = planPush(edited, profile.personFields);
    if (plan.kind !== 'push') throw new Error(`expected a push plan, got ${plan.kind}`);
    // Parked in the same write as the edit: the trigger sees it and leaves it alone.
    const parked = withPushState(edited, {
      status: 'parked',
      code: 'server_error',
      message: 'Dynamics was down',
      at: new Date().toISOString(),
      signature: plan.signature,
    });
    await people().item(person.id, person.id).replace(strip(parked));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((stack.dataverse.control.getRow('contact', contactId) as Row).jobtitle).not.toBe(
      'Parked Then Retried',
    );

    const client = new ServiceBusClient(stack.broker.connectionString);
    const sender = client.createSender('push-retry');
    await sender.sendMessages({ body: manualRetryMessage([person.id]), messageId: 'manual-retry-1' });
    await sender.close();
    await client.close();
    await jobTitleArrives(stack, 'contact', contactId, 'Parked Then Retried', 'the retried edit in Dynamics');
    const doc = await waitFor(async () => {
      const current = (await reader.read(person.id)) as PersonRecord;
      return pushStateOf(current) === undefined ? current : undefined;
    }, 'the parked state cleared');
    expect(doc.sync.agreed.jobTitle).toBe('Parked Then Retried');
    expect(hostErrors).toEqual([]);
  });
});

describe('npx dynamics-sync push --once', () => {
  let stack: LocalStack;
  let services: AppServices;
  const out: string[] = [];
  const err: string[] = [];
  const io = (): CliIo & PushCommandIo => ({
    // No Service Bus setting at all: a one-shot push needs no broker.
    env: Object.fromEntries(Object.entries(stack.env).filter(([name]) => !name.startsWith('SERVICEBUS'))),
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    pushPageSize: 7,
    // The deployed backoff (30 s, doubling), scaled down to keep the test short.
    retryPolicy: { pushRetry: { baseMs: 200, maxMs: 1000 } },
  });
  const run = async (...args: string[]) => {
    out.length = 0;
    err.length = 0;
    return main(['node', 'dynamics-sync', 'push', ...args], io());
  };
  const people = () => services.cosmos.database('marketing').container(CONTAINERS.people.id);
  const edit = async (person: PersonRecord, values: Record<string, unknown>) => {
    const { resource } = await people().item(person.id, person.id).read<PersonRecord>();
    await people()
      .item(person.id, person.id)
      .replace({ ...strip(resource as PersonRecord), ...values });
  };
  const pushStateIn = async (person: PersonRecord) =>
    pushStateOf((await people().item(person.id, person.id).read()).resource as object);
  const leadRow = (person: PersonRecord) =>
    stack.dataverse.control.getRow('lead', String(person.dynamics.leadId)) as Row;
  /** Runs `push` while the simulator answers the next `count` $batch requests with 503. */
  const runWhileBatchFails = async (count: number, ...args: string[]) => {
    stack.dataverse.control.failNext({ status: 503, count, pathPattern: '\\$batch' });
    try {
      return await run(...args);
    } finally {
      stack.dataverse.control.clearFaults();
    }
  };

  beforeAll(async () => {
    stack = await startLocalStack({ records: 30, seed: 71, withoutHost: true });
    services = await createAppServices(stack.env);
    await pullPeople(services);
  });
  afterAll(async () => {
    await services?.close();
    await stack?.stop();
  });

  it('pushes every pending edit since the checkpoint and prints a summary; a recorded rejection exits 1, a second run finds nothing', async () => {
    const all = await everyone(people());
    const [a, b] = pushable(all, 'lead') as [PersonRecord, PersonRecord];
    const [c] = pushable(all, 'contact') as [PersonRecord];
    await edit(a, { jobTitle: 'CLI One' });
    await edit(b, { firstName: 'F'.repeat(80) }); // rejected by Dynamics: a recorded error
    await edit(c, { phone: '+9 999' });
    expect(await run('--once')).toBe(1);
    expect(out.join('\n')).toMatch(/2 edit\(s\) pushed.*1 rejected by Dynamics/);
    expect(out.join('\n')).toMatch(/recorded as sync errors/);
    expect(leadRow(a).jobtitle).toBe('CLI One');
    expect((stack.dataverse.control.getRow('contact', String(c.dynamics.contactId)) as Row).telephone1).toBe(
      '+9 999',
    );
    const errors = await services.syncErrors.list('lead');
    expect(errors.find((e) => e.recordId === b.id)?.code).toBe('validation');

    stack.dataverse.control.resetCounters();
    expect(await run('--once')).toBe(0);
    expect(out.join('\n')).toMatch(/^push: 0 changed document\(s\) read, 0 edit\(s\) pushed/);
    expect(stack.dataverse.control.counters().total.requests).toBe(0);
  });

  it('needs no Service Bus: a transient failure is retried in this process with backoff and reaches Dynamics', async () => {
    const all = await everyone(people());
    const person = pushable(all, 'lead')[2] as PersonRecord;
    await edit(person, { jobTitle: 'After A Blip' });
    // As many 503s as the governor's own attempts (5): the first push fails, the retry after it does not.
    expect(await runWhileBatchFails(5, '--once', '--retry-for', '20')).toBe(0);
    expect(out.join('\n')).toMatch(/1 edit\(s\) pushed.*[1-9]\d* retried in this run, 0 still pending/);
    expect(leadRow(person).jobtitle).toBe('After A Blip');
    expect(await pushStateIn(person)).toBeUndefined();
  });

  it('reports what is still failing when its retries run out, exits 1, and the next run pushes it', async () => {
    const all = await everyone(people());
    const person = pushable(all, 'lead')[3] as PersonRecord;
    await edit(person, { jobTitle: 'Not Yet' });
    expect(await runWhileBatchFails(1000, '--once', '--retry-for', '1')).toBe(1);
    expect(out.join('\n')).toMatch(/0 edit\(s\) pushed.*1 still pending/);
    expect(err.join('\n')).toMatch(
      /1 edit\(s\) still failed transiently after 1 s of retries.*next `dynamics-sync push --once`/,
    );
    expect(await pushStateIn(person)).toMatchObject({ status: 'retrying' });
    // Nothing lost: the next run finds the retry that came due and pushes it.
    expect(await run('--once', '--retry-for', '0')).toBe(0);
    expect(out.join('\n')).toMatch(/1 edit\(s\) pushed/);
    expect(leadRow(person).jobtitle).toBe('Not Yet');
  });

  it('without --once it explains and exits 2', async () => {
    expect(await run()).toBe(2);
    expect(err.join('\n')).toMatch(/only --once/);
  });
});
