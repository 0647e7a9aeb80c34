import type { SimulatorOptions } from '../../local/dataverse/simulator.options';
import type { DataverseConnection } from '../../shared/dataverse';
import { DataversePersonRowGateway } from '../../shared/dataverse/person-row.gateway';
import type { PersonTable } from '../../shared/domain/person.values';
import type { PersonRecord } from '../../shared/domain/record.model';
import type { JobQueue, OutgoingMessage } from '../../shared/queue/job-queue.port';
import { QueuedPushRetries } from '../../shared/queue/push-retry.scheduler';
import { CreatePersonUseCase } from '../../shared/sync/push-create.use-case';
import { runPushRetry, type PushRetryOutcome } from '../../shared/sync/push-retry.handler';
import {
  PushUseCase,
  type PushDeps,
  type PushRunOptions,
  type PushSummary,
} from '../../shared/sync/push.use-case';
import { connectToSimulator } from './dataverse-simulator.helpers';
import { useStarted } from './lifecycle.helpers';
import { quietLog, startPullStack, type CountingRecords, type PullStack } from './pull-stack.fixture';

/** Keeps what the use case schedules, so a test can deliver it when it chooses. */
export class RecordingQueue implements JobQueue {
  readonly sent: { queue: string; message: OutgoingMessage }[] = [];
  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    for (const message of messages) this.sent.push({ queue, message });
  }
  take(): OutgoingMessage[] {
    return this.sent.splice(0).map((s) => s.message);
  }
  async close(): Promise<void> {}
}

export interface PushStack extends PullStack {
  queue: RecordingQueue;
  /** A connection whose governor gives up fast, so transient faults reach the retry path quickly. */
  impatient: DataverseConnection;
  /** Point reads of people documents, as stored. */
  reader: Pick<CountingRecords, 'read'>;
  useCase(overrides?: Partial<PushDeps>): PushUseCase;
  /** Pushes every person document as the change feed would deliver it. */
  pushAll(options?: PushRunOptions, overrides?: Partial<PushDeps>): Promise<PushSummary>;
  retry(message: OutgoingMessage, overrides?: Partial<PushDeps>): Promise<PushRetryOutcome>;
  creator(): CreatePersonUseCase;
  person(id: string): Promise<PersonRecord>;
  people(): Promise<PersonRecord[]>;
  /** A new marketing-only person, as the marketing application would create it. */
  addPerson(id: string, values: Record<string, unknown>): Promise<void>;
  /** A marketing-side edit, as the marketing application would write it. */
  edit(id: string, values: Record<string, unknown>): Promise<void>;
  writes(): { dynamics: number; cosmos: number };
}

export async function startPushStack(simOptions: SimulatorOptions = {}): Promise<PushStack> {
  const stack = await startPullStack(simOptions);
  const queue = new RecordingQueue();
  const impatient = connectToSimulator(stack.sim, {
    governor: { maxConcurrency: 4, maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
  });
  const container = stack.container('people');
  const reader = stack.records('people');
  const profiles: Record<PersonTable, ReturnType<PullStack['profile']>> = {
    lead: stack.profile('lead'),
    contact: stack.profile('contact'),
  };
  const creator = () =>
    new CreatePersonUseCase({
      rows: new DataversePersonRowGateway(stack.dataverse.client),
      people: stack.records('people'),
      profiles,
      errors: stack.errors,
      log: quietLog,
    });
  const useCase = (overrides: Partial<PushDeps> = {}) =>
    new PushUseCase({
      rows: new DataversePersonRowGateway(stack.dataverse.client),
      createPerson: (request) => creator().run(request),
      people: stack.records('people'),
      errors: stack.errors,
      retries: new QueuedPushRetries(queue, 'push-retry'),
      profiles,
      log: quietLog,
      retry: { maxAttempts: 2, baseMs: 1000, maxMs: 10_000 },
      random: () => 0,
      ...overrides,
    });
  const people = async () => (await stack.all('people')) as PersonRecord[];
  return {
    ...stack,
    queue,
    impatient,
    reader,
    useCase,
    pushAll: async (options = {}, overrides = {}) =>
      useCase(overrides).pushDocuments(await people(), options),
    retry: (message, overrides = {}) =>
      runPushRetry(
        message.body,
        { messageId: message.messageId },
        {
          read: (id) => reader.read(id),
          push: (docs, options) => useCase(overrides).pushDocuments(docs, options),
          errors: stack.errors,
          log: quietLog,
        },
      ),
    creator,
    person: async (id) => (await reader.read(id)) as unknown as PersonRecord,
    people,
    addPerson: async (id, values) => {
      await container.items.create({ id, entity: 'person', ...values });
    },
    edit: async (id, values) => {
      const current = await reader.read(id);
      if (current === undefined) throw new Error(`no person ${id}`);
      const body = Object.fromEntries(
        Object.entries({ ...current, ...values }).filter(([k]) => !k.startsWith('_')),
      );
      await container.item(id, id).replace(body);
    },
    writes: () => ({
      dynamics: stack.sim.control.counters().total.writes,
      cosmos: stack.records('people').written,
    }),
  };
}

/** A push stack for the enclosing describe, started before its tests and closed after them. */
export const usePushStack = (simOptions: SimulatorOptions = {}): (() => PushStack) =>
  useStarted(() => startPushStack(simOptions));

/**
 * Pulls `entities` in order, then returns the people a push can write, by table, checking that
 * there are at least as many as the suite's tests use.
 */
export async function pullPushable(
  stack: PushStack,
  entities: readonly string[],
  atLeast: { leads: number; contacts: number },
): Promise<{ leads: PersonRecord[]; contacts: PersonRecord[] }> {
  for (const entity of entities) await stack.pull(entity);
  const people = await stack.people();
  const leads = pushable(people, 'lead');
  const contacts = pushable(people, 'contact');
  expect(leads.length).toBeGreaterThanOrEqual(atLeast.leads);
  expect(contacts.length).toBeGreaterThanOrEqual(atLeast.contacts);
  return { leads, contacts };
}

/** People that a push can write: linked, synced, not merged, and for leads still open. */
export function pushable(people: readonly PersonRecord[], type: PersonTable): PersonRecord[] {
  return people.filter((p) => {
    const source = p.dynamics[type];
    return (
      p.type === type &&
      source !== undefined &&
      !source.merged &&
      p.sync.excluded === undefined &&
      p.sync.merged === undefined &&
      p.sync.deletedInDynamics === undefined &&
      (source.statecode === null ||
        (typeof source.statecode.value === 'number' && source.statecode.value === 0))
    );
  });
}
