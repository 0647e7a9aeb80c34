import { AliasRegistry } from '../../shared/cosmos/alias.registry';
import { rowIdFor } from '../../shared/domain/push.planner';
import type { PersonRecord } from '../../shared/domain/record.model';
import { usePushStack } from './push-stack.fixture';

describe('pull fast path: people linked by push-create are not duplicated by a first load', () => {
  // No pull yet: these are the first loads of leads and contacts.
  const stack = usePushStack({ records: 20, seed: 61 });
  const people = () => stack().container('people');
  const registry = () => new AliasRegistry(stack().container('syncState'));
  const holding = async (table: 'leadId' | 'contactId', rowId: string) =>
    ((await stack().people()) as PersonRecord[])
      .filter((p) => p.dynamics?.[table] === rowId)
      .map((p) => p.id);
  const ids = async () => (await stack().people()).map((p) => p.id);

  /** A contact in Dynamics and a marketing person with its email, not linked: what push-create links. */
  async function contactAndPerson(personId: string, first: string, last: string, email: string) {
    const contact = stack().sim.control.createRow('contact', {
      firstname: first,
      lastname: last,
      emailaddress1: email,
      new_synctomkto: true,
    });
    await stack().addPerson(personId, { firstName: first, lastName: last, email });
    return String(contact.contactid);
  }

  afterAll(() => {
    jest.restoreAllMocks();
  });

  it('linking to a contact found by email registers the alias before the person holds it', async () => {
    const contactId = await contactAndPerson('mkto-kj', 'Katherine', 'Johnson', 'k.johnson@nasa.example');
    expect(await stack().creator().run({ personId: 'mkto-kj' })).toEqual({
      status: 'linked',
      table: 'contact',
      rowId: contactId,
    });
    expect((await registry().personsOf([contactId])).get(contactId)).toBe('mkto-kj');

    // Checkpoint absent, aliased person present. The registry alone must keep the row on the read
    // path, so the load-start check (which would also catch this person) is taken out here.
    await stack().checkpoints.reset('contact');
    const check = jest.spyOn(stack().records('people'), 'hasRecordsOf').mockResolvedValue(false);
    const reads = jest.spyOn(stack().records('people'), 'findForPage');
    reads.mockClear();
    expect((await stack().pull('contact')).outcome).toBe('done');
    expect(check).toHaveBeenCalled();
    expect((await stack().checkpoints.get('contact'))?.phase).toBe('delta');
    expect(reads).toHaveBeenCalled(); // the aliased row was read first
    expect(await holding('contactId', contactId)).toEqual(['mkto-kj']);
    expect(await ids()).not.toContain(contactId);
    check.mockRestore();
    reads.mockRestore();
  });

  it('creating a lead under a derived id registers the alias, and a first lead load joins it', async () => {
    await stack().addPerson('mkto-dv', {
      firstName: 'Dorothy',
      lastName: 'Vaughan',
      email: 'd.vaughan@nasa.example',
      company: 'NACA',
    });
    const rowId = rowIdFor('mkto-dv', 'lead');
    expect(rowId).not.toBe('mkto-dv');
    expect(await stack().creator().run({ personId: 'mkto-dv' })).toEqual({
      status: 'created',
      table: 'lead',
      rowId,
    });
    expect((await registry().personsOf([rowId])).get(rowId)).toBe('mkto-dv');

    await stack().checkpoints.reset('lead');
    const check = jest.spyOn(stack().records('people'), 'hasRecordsOf').mockResolvedValue(false);
    expect((await stack().pull('lead')).outcome).toBe('done');
    expect(await holding('leadId', rowId)).toEqual(['mkto-dv']);
    expect(await ids()).not.toContain(rowId);
    // Every synced lead is held by exactly one person.
    const leads = stack().sim.control.listRows('lead', { limit: 10_000 }) as Record<string, unknown>[];
    const synced = leads.filter((r) => r.new_synctomkto !== false).map((r) => String(r.leadid));
    const held = ((await stack().people()) as PersonRecord[]).flatMap((p) => p.dynamics?.leadId ?? []);
    expect(synced.length).toBeGreaterThan(5);
    expect([...held].sort()).toEqual([...synced].sort());
    check.mockRestore();
  });

  it('a contact pulled between the registration and the link goes into the registered person', async () => {
    // The contact load of the first test is done: this pull is incremental (read path).
    const contactId = await contactAndPerson('mkto-mj', 'Mary', 'Jackson', 'm.jackson@nasa.example');
    // push-create has registered the row and not written the link yet when the pull runs.
    await registry().register(contactId, 'mkto-mj');
    expect((await stack().checkpoints.get('contact'))?.phase).toBe('delta');
    expect((await stack().pull('contact')).outcome).toBe('done');
    expect(await holding('contactId', contactId)).toEqual(['mkto-mj']);
    expect(await ids()).not.toContain(contactId);
    const joined = (await stack().people()).find((p) => p.id === 'mkto-mj') as PersonRecord;
    expect(joined).toMatchObject({
      type: 'contact',
      email: 'm.jackson@nasa.example',
      dynamics: { contactId, contact: { id: contactId } },
    });
    // The person awaiting its link is not reported as an invalid stored document.
    const errors = await stack().errors.list('contact', 100);
    expect(errors.filter((e) => e.recordId === 'mkto-mj')).toEqual([]);
    // push-create's own link then finds the pull's version in place: still one person.
    const result = await stack().creator().run({ personId: 'mkto-mj' });
    expect(result).toMatchObject({ table: 'contact', rowId: contactId });
    expect(await holding('contactId', contactId)).toEqual(['mkto-mj']);
  });

  it('push-create looks again after registering: a first load that wrote the row meanwhile makes it a duplicate', async () => {
    const contactId = await contactAndPerson('mkto-cd', 'Christine', 'Darden', 'c.darden@nasa.example');
    const repository = stack().records('people');
    const register = repository.registerAlias.bind(repository);
    // A first load that checked the registry before this registration writes the row as its own
    // person while push-create registers.
    const spy = jest.spyOn(repository, 'registerAlias').mockImplementation(async (rowId, personId) => {
      await people().items.create({
        id: rowId,
        entity: 'person',
        type: 'contact',
        dynamics: { contactId: rowId, etag: 'W/"1"', versionnumber: 1, modifiedon: null },
        sync: { updatedAt: new Date().toISOString(), agreed: {} },
      });
      await register(rowId, personId);
    });
    try {
      expect(await stack().creator().run({ personId: 'mkto-cd' })).toEqual({
        status: 'duplicate',
        table: 'contact',
        rowId: contactId,
        otherPersonId: contactId,
      });
    } finally {
      spy.mockRestore();
    }
    expect(await holding('contactId', contactId)).toEqual([contactId]);
  });
});
