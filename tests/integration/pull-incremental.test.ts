import type { GenericRecord, PersonRecord } from '../../shared/domain/record.model';
import { usePullStack } from './pull-stack.fixture';

type Row = Record<string, unknown>;

describe('pull: incremental changes from the delta feed', () => {
  const stack = usePullStack({ records: 40, seed: 21 });
  const rows = (table: string) => stack().sim.control.listRows(table) as Row[];
  const person = async (id: string) =>
    (await stack().container('people').item(id, id).read<PersonRecord>()).resource as PersonRecord;
  const personByContact = async (contactId: string) =>
    ((await stack().all('people')) as PersonRecord[]).find((p) => p.dynamics.contactId === contactId);
  const account = async (id: string) =>
    (await stack().container('accounts').item(id, id).read<GenericRecord>()).resource as GenericRecord;

  beforeAll(async () => {
    for (const entity of ['lead', 'contact', 'account']) {
      expect((await stack().pull(entity, { pageSize: 10 })).outcome).toBe('done');
    }
  });

  it('applies edits, creates and deletes', async () => {
    const contact = rows('contact').find((r) => r.new_synctomkto !== false && r.merged !== true) as Row;
    const contactId = String(contact.contactid);
    stack().sim.control.updateRow('contact', contactId, { jobtitle: 'Chief Everything Officer' });
    const created = stack().sim.control.createRow('lead', {
      firstname: 'Grace',
      lastname: 'Hopper',
      emailaddress1: 'grace@example.com',
      companyname: 'Navy',
    });
    const gone = rows('account').find((r) => r.new_synctomkto !== false) as Row;
    stack().sim.control.deleteRow('account', String(gone.accountid));

    await stack().pull('contact');
    await stack().pull('lead');
    await stack().pull('account');

    expect((await personByContact(contactId))?.jobTitle).toBe('Chief Everything Officer');
    expect(await person(String(created.leadid))).toMatchObject({
      type: 'lead',
      firstName: 'Grace',
      email: 'grace@example.com',
      company: 'Navy',
    });
    const deleted = await account(String(gone.accountid));
    expect(deleted.sync.deletedInDynamics?.at).toEqual(expect.any(String));
    expect(deleted.values.name).toBe(gone.name);
  });

  it('flags a merged row with its survivor', async () => {
    const [target, loser] = rows('account').filter(
      (r) => r.new_synctomkto !== false && r.merged !== true && r.statecode === 0,
    );
    if (!target || !loser) throw new Error('seed has too few active accounts');
    stack().sim.control.merge('account', String(target.accountid), String(loser.accountid));
    await stack().pull('account');
    expect((await account(String(loser.accountid))).sync.merged?.into).toBe(target.accountid);
  });

  it('joins a qualified lead and its new contact into one person', async () => {
    const lead = stack().sim.control.createRow('lead', {
      firstname: 'Katherine',
      lastname: 'Johnson',
      companyname: 'NASA',
    });
    const leadId = String(lead.leadid);
    await stack().pull('lead');
    const before = (await stack().all('people')).length;
    const created = stack().sim.control.qualify(leadId, {
      createContact: true,
      createAccount: false,
      createOpportunity: false,
    });
    const contactId = created.find((c) => c.table === 'contact')?.id;
    expect(contactId).toBeDefined();
    await stack().pull('lead');
    await stack().pull('contact');
    expect((await stack().all('people')).length).toBe(before);
    const doc = await person(leadId);
    expect(doc).toMatchObject({ type: 'contact', firstName: 'Katherine', dynamics: { leadId, contactId } });
    expect(doc.dynamics.lead?.statecode?.value).toBe(1);
  });

  it('filter flips: true -> false keeps the copy unchanged and flagged, false -> true syncs at once', async () => {
    const contact = rows('contact').find((r) => r.new_synctomkto === true && r.merged !== true) as Row;
    const contactId = String(contact.contactid);
    stack().sim.control.updateRow('contact', contactId, { new_synctomkto: false, jobtitle: 'Hidden Title' });
    await stack().pull('contact');
    const excluded = await personByContact(contactId);
    expect(excluded?.jobTitle).toBe(contact.jobtitle);
    expect(excluded?.sync.excluded?.at).toEqual(expect.any(String));
    stack().sim.control.updateRow('contact', contactId, { new_synctomkto: true });
    await stack().pull('contact');
    const back = await personByContact(contactId);
    expect(back?.jobTitle).toBe('Hidden Title');
    expect(back?.sync.excluded).toBeUndefined();

    // A row created with the filter off is not copied; switching it on copies it.
    const hidden = stack().sim.control.createRow('contact', {
      firstname: 'Off',
      lastname: 'Filter',
      new_synctomkto: false,
    });
    await stack().pull('contact');
    expect(await personByContact(String(hidden.contactid))).toBeUndefined();
    stack().sim.control.updateRow('contact', String(hidden.contactid), { new_synctomkto: true });
    await stack().pull('contact');
    expect((await personByContact(String(hidden.contactid)))?.firstName).toBe('Off');
  });

  it('merges three ways: a marketing edit survives a Dynamics edit of another field', async () => {
    const contact = rows('contact').find(
      (r) => r.new_synctomkto !== false && r.merged !== true && r.statecode === 0,
    ) as Row;
    const doc = (await personByContact(String(contact.contactid))) as PersonRecord;
    await stack()
      .container('people')
      .item(doc.id, doc.id)
      .replace({ ...doc, jobTitle: 'Edited In Marketing' });
    stack().sim.control.updateRow('contact', String(contact.contactid), { lastname: 'Changed-In-Dynamics' });
    await stack().pull('contact');
    const merged = (await personByContact(String(contact.contactid))) as PersonRecord;
    expect(merged.jobTitle).toBe('Edited In Marketing');
    expect(merged.lastName).toBe('Changed-In-Dynamics');
    expect(merged.sync.agreed.jobTitle).toBe(contact.jobtitle);
  });

  it('an expired delta token triggers a full resync that marks rows gone from Dynamics as deleted', async () => {
    const active = rows('account').filter((r) => r.new_synctomkto !== false);
    const victim = active[active.length - 1] as Row;
    stack().sim.control.deleteRow('account', String(victim.accountid));
    stack().sim.control.expireDeltaTokens('account');
    const result = await stack().pull('account', { pageSize: 3 });
    expect(result).toMatchObject({ outcome: 'done', resynced: true, phase: 'delta' });
    expect(result.stats.markedDeleted).toBeGreaterThanOrEqual(1);
    expect((await account(String(victim.accountid))).sync.deletedInDynamics?.at).toEqual(expect.any(String));
    // Rows that still exist are not marked.
    const docs = (await stack().all('accounts')) as GenericRecord[];
    const live = new Set(rows('account').map((r) => r.accountid));
    for (const doc of docs) {
      if (live.has(doc.id)) expect(doc.sync.deletedInDynamics).toBeUndefined();
      else expect(doc.sync.deletedInDynamics).toBeDefined();
    }
    // And the sync goes on incrementally afterwards.
    const survivor = rows('account').find((r) => r.new_synctomkto !== false) as Row;
    stack().sim.control.updateRow('account', String(survivor.accountid), { name: 'After Resync Ltd' });
    expect((await stack().pull('account')).resynced).toBe(false);
    expect((await account(String(survivor.accountid))).values.name).toBe('After Resync Ltd');
  });
});
