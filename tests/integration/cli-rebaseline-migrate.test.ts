import { randomUUID } from 'node:crypto';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import { DOCUMENT_SCHEMA_VERSION } from '../../shared/domain/document.schema';
import { cliEnv, runCli } from './cli-run.helpers';
import { startProvisionedCosmos } from './cosmos.fixture';
import { useSimulator } from './dataverse-simulator.helpers';
import { useStarted } from './lifecycle.helpers';

/** The two one-off commands of issue 14 through the real CLI, on the simulator and the Cosmos stand-in. */
describe('dynamics-sync rebaseline and migrate', () => {
  const sim = useSimulator({ records: 20, seed: 13 });
  const store = useStarted(() => startProvisionedCosmos('cli-rebaseline'));
  const env = () => ({ ...cliEnv(sim(), store(), 'cli-rebaseline'), SYNC_ENTITIES: 'lead,contact' });
  const run = (args: string[]) => runCli(args, { env: env() });
  const people = () => store().database.container(CONTAINERS.people.id);

  it('a refresh pauses sync --once; rebaseline --local and sync --once bring it back', async () => {
    expect((await run(['sync', '--once'])).code).toBe(0);
    sim().control.setOrganizationId(randomUUID());

    const paused = await run(['sync', '--once']);
    expect(paused.code).toBe(1);
    expect(`${paused.out}\n${paused.err}`).toMatch(/organization_changed/);
    const status = await run(['status']);
    expect(status.out).toMatch(/paused \(organization_changed\)/);

    const rebaseline = await run(['rebaseline', '--local']);
    expect(rebaseline.code).toBe(0);
    expect(rebaseline.out).toMatch(/rebaseline: lead restarted/);
    expect(rebaseline.out).toMatch(/run `dynamics-sync sync --once`/);
    expect((await run(['sync', '--once'])).code).toBe(0);
    expect((await run(['status'])).out).not.toMatch(/paused/);
  });

  it('migrate rewrites documents of the first version, and a second run finds none', async () => {
    const { resource } = await people().items.create({
      id: 'v1-person',
      entity: 'person',
      email: 'old@example.com',
    });
    expect((resource as Record<string, unknown> | undefined)?.schemaVersion).toBeUndefined();
    const first = await run(['migrate']);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(
      new RegExp(`people: [1-9]\\d* document\\(s\\) now schema version ${DOCUMENT_SCHEMA_VERSION}`),
    );
    const stored = (await people().item('v1-person', 'v1-person').read<Record<string, unknown>>()).resource;
    expect(stored).toMatchObject({ email: 'old@example.com', schemaVersion: DOCUMENT_SCHEMA_VERSION });
    const second = await run(['migrate']);
    expect(second.out).toMatch(/people: 0 document\(s\)/);
  });
});
