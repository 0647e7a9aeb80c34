import { AliasRegistry } from '../../shared/cosmos/alias.registry';
import { rowIdFor } from '../../shared/domain/push.planner';
import type { PersonRecord } from '../../shared/domain/record.model';
import { startPushStack, type PushStack } from './push-stack.fixture';

describe('pull fast path: people linked by push-create are not duplicated by a first load', () => {
  let stack: PushStack;
  const people = () => stack.container('people');
  const registry = () => new AliasRegistry(stack.container('syncState'));
  const holding = async (table: 'leadId' | 'contactId', rowId: string) =>
    ((await stack.people()) as PersonRecord[]).filter((p) => p.dynamics?.[table] === rowId).map((p) => p.id);
  const ids = async () => (await stack.people()).map((p) => p.id);

  async function forgetLoad(entity: string): Promise<void> {
    await stack
      .container('syncState')
      .item(`checkpoint:${entity}`, entity)
      .delete()
      .catch(() => undefined);
  }

  beforeAll(async () => {
    // No pull yet: these are the first loads of leads and contacts.
    stack = await startPushStack({ records: 20, seed: 61 });
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await stack.close();
  });

  it('linking to a contact found by email registers the alias before the person holds it', async () => {
    const contact = stack.sim.control.createRow('contact', {
      firstname: 'Katherine',
      lastname: 'Johnson',
      emailaddress1: 'k.johnson@nasa.example',
      new_synctomkto: true,
    });
    const contactId = String(contact.contactid);
    await people().items.create({
      id: 'mkto-kj',
      entity: 'person',
      firstName: 'Katherine',
      lastName: 'Johnson',
      email: 'k.johnson@nasa.example',
    });
    expect(await stack.creator().run({ personId: 'mkto-kj' })).toEqual({
      status: 'linked',
      table: 'contact',
      rowId: contactId,
    });
    expect((await registry().rowIds()).has(contactId)).toBe(true);

    // Checkpoint absent, aliased person present. The registry alone must keep the row on the read
    // path, so the load-start check (which would also catch this person) is taken out here.
    await forgetLoad('contact');
    const check = jest.spyOn(stack.records('people'), 'hasRecordsOf').mockResolvedValue(false);
    const reads = jest.spyOn(stack.records('people'), 'findForPage');
    reads.mockClear();
    expect((await stack.pull('contact')).outcome).toBe('done');
    expect(check).toHaveBeenCalled();
    expect((await stack.checkpoints.get('contact'))?.phase).toBe('delta');
    expect(reads).toHaveBeenCalled(); // the aliased row was read first
    expect(await holding('contactId', contactId)).toEqual(['mkto-kj']);
    expect(await ids()).not.toContain(contactId);
    check.mockRestore();
    reads.mockRestore();
  });

  it('creating a lead under a derived id registers the alias, and a first lead load joins it', async () => {
    await people().items.create({
      id: 'mkto-dv',
      entity: 'person',
      firstName: 'Dorothy',
      lastName: 'Vaughan',
      email: 'd.vaughan@nasa.example',
      company: 'NACA',
    });
    const rowId = rowIdFor('mkto-dv', 'lead');
    expect(rowId).not.toBe('mkto-dv');
    expect(await stack.creator().run({ personId: 'mkto-dv' })).toEqual({
      status: 'created',
      table: 'lead',
      rowId,
    });
    expect((await registry().rowIds()).has(rowId)).toBe(true);

    await forgetLoad('lead');
    const check = jest.spyOn(stack.records('people'), 'hasRecordsOf').mockResolvedValue(false);
    expect((await stack.pull('lead')).outcome).toBe('done');
    expect(await holding('leadId', rowId)).toEqual(['mkto-dv']);
    expect(await ids()).not.toContain(rowId);
    // Every synced lead is held by exactly one person.
    const leads = stack.sim.control.listRows('lead', { limit: 10_000 }) as Record<string, unknown>[];
    const synced = leads.filter((r) => r.new_synctomkto !== false).map((r) => String(r.leadid));
    const held = ((await stack.people()) as PersonRecord[]).flatMap((p) => p.dynamics?.leadId ?? []);
    expect(synced.length).toBeGreaterThan(5);
    expect([...held].sort()).toEqual([...synced].sort());
    check.mockRestore();
  });
});
