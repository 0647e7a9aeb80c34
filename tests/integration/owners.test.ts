import { parseSyncConfig } from '../../shared/config/sync-config.schema';
import { CosmosOwnerDirectory } from '../../shared/cosmos/owner-directory.repository';
import { DataversePersonRowGateway } from '../../shared/dataverse/person-row.gateway';
import type { GenericRecord, PersonRecord } from '../../shared/domain/record.model';
import { CreatePersonUseCase } from '../../shared/sync/push-create.use-case';
import { quietLog } from './pull-stack.fixture';
import { usePushStack } from './push-stack.fixture';

type Row = Record<string, unknown>;

describe('owners', () => {
  const stack = usePushStack({ records: 40, seed: 61 });
  const directory = () => new CosmosOwnerDirectory(stack().container('directory'));
  const users = () => stack().sim.control.listRows('systemuser', { limit: 1000 }) as Row[];
  // Seeded human users (application users have an applicationid).
  const humans = () => users().filter((u) => u.applicationid === undefined || u.applicationid === null);
  const enabled = () => humans().filter((u) => u.isdisabled !== true);
  const disabled = () => humans().filter((u) => u.isdisabled === true);
  const creator = (owners: unknown) =>
    new CreatePersonUseCase({
      rows: new DataversePersonRowGateway(stack().dataverse.client),
      people: stack().records('people'),
      profiles: { lead: stack().profile('lead'), contact: stack().profile('contact') },
      errors: stack().errors,
      log: quietLog,
      owners: { directory: directory(), rules: parseSyncConfig({ owners }).owners },
    });

  beforeAll(async () => {
    for (const entity of ['systemuser', 'team', 'teammembership']) {
      expect((await stack().pull(entity)).outcome).toBe('done');
    }
    for (const entity of ['lead', 'contact', 'account']) {
      expect((await stack().pull(entity, { owners: directory() })).outcome).toBe('done');
    }
  });

  it('keeps every owner as {id, type, name, email} from the directory, and a second pull writes nothing', async () => {
    const teams = stack().sim.control.listRows('team', { limit: 1000 }) as Row[];
    const people = (await stack().all('people')) as PersonRecord[];
    const accounts = (await stack().all('accounts')) as GenericRecord[];
    let byTeam = 0;
    for (const doc of [...people, ...accounts]) {
      const person = doc.entity === 'person' ? (doc as PersonRecord) : undefined;
      const row = (
        person !== undefined
          ? stack().sim.control.getRow(person.type, String(person.dynamics[`${person.type}Id`]))
          : stack().sim.control.getRow('account', doc.id)
      ) as Row;
      const ownerId = String(row._ownerid_value);
      const user = users().find((u) => u.systemuserid === ownerId);
      const team = teams.find((t) => t.teamid === ownerId);
      if (team !== undefined) byTeam += 1;
      expect(doc.owner).toEqual(
        user !== undefined
          ? { id: ownerId, type: 'systemuser', name: user.fullname, email: user.internalemailaddress ?? null }
          : { id: ownerId, type: 'team', name: team?.name, email: null },
      );
    }
    expect(byTeam).toBeGreaterThan(0);
    for (const entity of ['lead', 'contact', 'account']) {
      expect((await stack().pull(entity, { owners: directory() })).stats.written).toBe(0);
    }
  });

  it('syncs team memberships into the directory', async () => {
    const memberships = (await stack().all('directory')).filter((d) => d.entity === 'teammembership');
    expect(memberships.length).toBe(stack().sim.control.count('teammembership'));
    expect(memberships.length).toBeGreaterThan(0);
    for (const m of memberships as GenericRecord[]) {
      expect(typeof m.values.systemuserid).toBe('string');
      expect(typeof m.values.teamid).toBe('string');
    }
  });

  it('a create naming a disabled owner falls back to the default owner, with a visible warning', async () => {
    const fallback = String(enabled()[0]?.systemuserid);
    const off = String(disabled()[0]?.systemuserid);
    expect(disabled().length).toBeGreaterThan(0);
    await stack().addPerson('owner-1', {
      firstName: 'Ada',
      lastName: 'Byron',
      email: 'ada.owner@example.com',
    });
    const result = await creator({ default: { id: fallback } }).run({ personId: 'owner-1', ownerId: off });
    expect(result).toMatchObject({ status: 'created', table: 'lead' });
    expect(result).toHaveProperty('warning', expect.stringContaining(`${off} is a disabled user`));
    const rowId = (result as { rowId: string }).rowId;
    expect(stack().sim.control.getRow('lead', rowId)?._ownerid_value).toBe(fallback);
    const warning = (await stack().errors.list('lead')).find((e) => e.recordId === 'owner-1');
    expect(warning).toMatchObject({ code: 'owner_fallback', operation: 'push' });
    expect(warning?.message).toContain('owners.default');
  });

  it('an unknown owner falls back too; without a default the create is refused, saying how to fix it', async () => {
    const fallback = String(enabled()[1]?.systemuserid);
    const unknown = '0badc0de-0000-4000-8000-000000000001';
    await stack().addPerson('owner-2', {
      firstName: 'Bob',
      lastName: 'Noone',
      email: 'bob.owner@example.com',
    });
    const refused = await creator({}).run({ personId: 'owner-2', ownerId: unknown });
    expect(refused).toMatchObject({ status: 'rejected', code: 'owner_unavailable' });
    expect((refused as { message: string }).message).toMatch(
      /not a user of this Dynamics environment.*owners\.default/,
    );
    expect(
      (await stack().errors.list('lead')).some(
        (e) => e.recordId === 'owner-2' && e.code === 'owner_unavailable',
      ),
    ).toBe(true);

    const created = await creator({ default: { id: fallback } }).run({
      personId: 'owner-2',
      ownerId: unknown,
    });
    expect(created).toMatchObject({ status: 'created' });
    expect(stack().sim.control.getRow('lead', (created as { rowId: string }).rowId)?._ownerid_value).toBe(
      fallback,
    );
  });

  it("maps another environment's owner id by email when configured", async () => {
    const target = enabled()[2] as Row;
    const elsewhere = '0badc0de-0000-4000-8000-000000000002';
    await stack().addPerson('owner-3', {
      firstName: 'Cy',
      lastName: 'Mapped',
      email: 'cy.owner@example.com',
    });
    const result = await creator({
      mapByEmail: true,
      default: { id: String(enabled()[0]?.systemuserid) },
    }).run({
      personId: 'owner-3',
      ownerId: elsewhere,
      ownerEmail: String(target.internalemailaddress).toUpperCase(),
    });
    expect(result).toMatchObject({ status: 'created' });
    expect(result).not.toHaveProperty('warning');
    expect(stack().sim.control.getRow('lead', (result as { rowId: string }).rowId)?._ownerid_value).toBe(
      target.systemuserid,
    );
  });
});
