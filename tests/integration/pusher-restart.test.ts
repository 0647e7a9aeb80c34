import type { Container } from '@azure/cosmos';
import { closeServices } from '../../functions/app.services';
import { startLocalHost } from '../../local/host/local-host';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { createAppServices, type AppServices } from '../../shared/app/app.services';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import type { PersonRecord } from '../../shared/domain/record.model';
import { quietLog } from './pull-stack.fixture';
import { waitFor } from './polling.helpers';

type Row = Record<string, unknown>;

// The Cosmos trigger keeps its place in the lease container, so a host that dies and starts again
// goes on from where it was: marketing edits made while no host ran are pushed, not skipped.
describe('pusher across a host restart', () => {
  let stack: LocalStack;
  let services: AppServices;
  const people = (): Container => services.cosmos.database('marketing').container(CONTAINERS.people.id);
  const hostOptions = { startTimers: false, cosmosPollIntervalMs: 200 } as const;

  beforeAll(async () => {
    stack = await startLocalStack({
      records: 20,
      seed: 73,
      env: { SYNC_ENTITIES: 'lead,contact', SYNC_SCHEDULE: '0 0 0 * * *' },
      host: hostOptions,
    });
    services = await createAppServices(stack.env);
    for (const entity of ['lead', 'contact']) {
      expect((await services.sync.pullEntity(entity, {}, { log: quietLog })).outcome).toBe('done');
    }
  });
  afterAll(async () => {
    await stack?.stop();
    await closeServices();
    await services?.close();
  });

  it('pushes a marketing edit made while the host was down once it is back', async () => {
    const { resources } = await people()
      .items.query<PersonRecord>("SELECT * FROM c WHERE c.type = 'lead' AND IS_DEFINED(c.dynamics.lead)")
      .fetchAll();
    const [first, second] = resources.filter((p) => p.dynamics.contactId === undefined);
    if (first === undefined || second === undefined) throw new Error('the seed has no two open leads');
    const jobTitleOf = (person: PersonRecord) =>
      (stack.dataverse.control.getRow('lead', String(person.dynamics.leadId)) as Row).jobtitle;

    // The running host pushes an edit: its trigger has a place to resume from.
    await people().items.upsert({ ...first, jobTitle: 'Before the crash' });
    await waitFor(
      async () => (jobTitleOf(first) === 'Before the crash' ? true : undefined),
      'the first push',
    );

    await stack.host?.stop();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await people().items.upsert({ ...second, jobTitle: 'Edited while down' });
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const host = await startLocalHost({ ...hostOptions, env: stack.env });
    try {
      await waitFor(
        async () => (jobTitleOf(second) === 'Edited while down' ? true : undefined),
        'the edit made while no host ran, pushed after the restart',
        15_000,
      );
    } finally {
      await host.stop();
    }
  });
});
