import { pushStateOf, rowIdFor } from '../../shared/domain/push.planner';
import type { PersonRecord } from '../../shared/domain/record.model';
import { pushable, usePushStack } from './push-stack.fixture';

type Row = Record<string, unknown>;

describe('push: sync a marketing-only person to Dynamics', () => {
  const stack = usePushStack({ records: 30, seed: 51 });
  let owner: string;
  const rows = (table: string) => stack().sim.control.listRows(table, { limit: 10_000 }) as Row[];
  const withEmail = (table: string, email: string) =>
    rows(table).filter((r) => String(r.emailaddress1 ?? '').toLowerCase() === email.toLowerCase());

  beforeAll(async () => {
    await stack().pull('lead');
    await stack().pull('contact');
    const user = (stack().sim.control.listRows('systemuser') as Row[]).find((u) => u.isdisabled !== true);
    owner = String(user?.systemuserid);
  });

  it('creates a lead with a client-chosen id and the owner; asking again does nothing', async () => {
    await stack().addPerson('mkto-1001', {
      firstName: 'Grace',
      lastName: 'Hopper',
      email: 'grace.hopper@navy.example',
      company: 'US Navy',
      jobTitle: 'Rear Admiral',
    });
    const result = await stack().creator().run({ personId: 'mkto-1001', ownerId: owner });
    const rowId = rowIdFor('mkto-1001', 'lead');
    expect(result).toEqual({ status: 'created', table: 'lead', rowId });
    expect(stack().sim.control.getRow('lead', rowId)).toMatchObject({
      firstname: 'Grace',
      lastname: 'Hopper',
      companyname: 'US Navy',
      _ownerid_value: owner,
    });
    const person = await stack().person('mkto-1001');
    expect(person.dynamics.leadId).toBe(rowId);
    expect(person.sync.agreed).toMatchObject({ firstName: 'Grace', company: 'US Navy' });
    expect(pushStateOf(person)).toBeUndefined();

    stack().sim.control.resetCounters();
    expect(await stack().creator().run({ personId: 'mkto-1001' })).toMatchObject({ status: 'exists' });
    expect(stack().sim.control.counters().total.requests).toBe(0);

    // The pull that sees the new lead joins it to this person instead of making another.
    const before = (await stack().people()).length;
    await stack().pull('lead');
    expect((await stack().people()).length).toBe(before);
    expect((await stack().pushAll()).requests).toBe(0);
  });

  it('creates a contact when asked', async () => {
    await stack().addPerson('mkto-1002', { firstName: 'Alan', lastName: 'Turing' });
    const result = await stack().creator().run({ personId: 'mkto-1002', as: 'contact' });
    expect(result).toMatchObject({ status: 'created', table: 'contact' });
    expect(stack().sim.control.getRow('contact', rowIdFor('mkto-1002', 'contact'))?.lastname).toBe('Turing');
  });

  it('the same person pushed twice concurrently gives one Dynamics row', async () => {
    const email = 'race@example.com';
    await stack().addPerson('mkto-race', { lastName: 'Racer', email });
    const results = await Promise.all([
      stack().creator().run({ personId: 'mkto-race' }),
      stack().creator().run({ personId: 'mkto-race' }),
      stack().creator().run({ personId: 'mkto-race' }),
    ]);
    expect(results.map((r) => r.status).filter((s) => s === 'created')).toHaveLength(1);
    expect(results.every((r) => r.status === 'created' || r.status === 'exists')).toBe(true);
    expect(withEmail('lead', email)).toHaveLength(1);
    expect(withEmail('contact', email)).toHaveLength(0);
    expect((await stack().person('mkto-race')).dynamics.leadId).toBe(rowIdFor('mkto-race', 'lead'));
  });

  it('links to an existing contact found by email instead of duplicating it', async () => {
    const contact = stack().sim.control.createRow('contact', {
      firstname: 'Ada',
      lastname: 'Lovelace',
      emailaddress1: 'ada.l@example.com',
      jobtitle: 'Analyst',
    });
    const contactId = String(contact.contactid);
    await stack().addPerson('mkto-ada', {
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada.l@example.com',
      jobTitle: 'Countess',
    });
    const leadsBefore = rows('lead').length;
    const result = await stack().creator().run({ personId: 'mkto-ada' });
    expect(result).toEqual({ status: 'linked', table: 'contact', rowId: contactId });
    expect(rows('lead').length).toBe(leadsBefore);
    const person = await stack().person('mkto-ada');
    expect(person).toMatchObject({ type: 'contact', jobTitle: 'Analyst' }); // contact: Dynamics wins
    expect(person.dynamics.contactId).toBe(contactId);
  });

  it('a row already synced to another person is reported, not linked twice', async () => {
    const existing = pushable(await stack().people(), 'lead')[0] as PersonRecord;
    const email = String(existing.email);
    await stack().addPerson('mkto-dup', { lastName: 'Dup', email });
    const result = await stack().creator().run({ personId: 'mkto-dup' });
    expect(result).toMatchObject({ status: 'duplicate', otherPersonId: existing.id });
    expect((await stack().person('mkto-dup')).dynamics).toBeUndefined();
  });

  it('a rejected create is recorded and shown on the person; a fixed retry creates the same row', async () => {
    await stack().addPerson('mkto-long', {
      firstName: 'F'.repeat(60),
      lastName: 'Long',
    });
    const result = await stack().creator().run({ personId: 'mkto-long' });
    expect(result).toMatchObject({ status: 'rejected', code: 'validation' });
    expect((await stack().errors.list('lead')).find((e) => e.recordId === 'mkto-long')?.code).toBe(
      'validation',
    );
    expect(pushStateOf(await stack().person('mkto-long'))).toMatchObject({ status: 'error' });
    await stack().edit('mkto-long', { firstName: 'Fixed' });
    expect(await stack().creator().run({ personId: 'mkto-long' })).toMatchObject({
      status: 'created',
      rowId: rowIdFor('mkto-long', 'lead'),
    });
    // Created now: the rejection is resolved, no longer an open error.
    expect((await stack().errors.list('lead')).find((e) => e.recordId === 'mkto-long')).toBeUndefined();
    expect(
      (await stack().errors.list('lead', 100, true)).find((e) => e.recordId === 'mkto-long'),
    ).toMatchObject({
      code: 'validation',
      resolvedAt: expect.any(String),
    });
    expect(await stack().creator().run({ personId: 'nobody' })).toEqual({ status: 'not_found' });
  });
});
