import type { EntityProfile } from '../../shared/domain/entity.profile';
import { lookupIdsOf, markUnseen, planPage } from '../../shared/domain/page.planner';
import {
  genericRecordSchema,
  personRecordSchema,
  type PersonRecord,
  type RecordDocument,
} from '../../shared/domain/record.model';
import {
  ACCOUNT,
  CONTACT,
  LEAD,
  OTHER,
  USER,
  accountRow,
  contactRow,
  leadRow,
  profileOf,
} from './domain-fixtures';

const T1 = '2026-02-01T00:00:00.000Z';
const T2 = '2026-02-02T00:00:00.000Z';

/** Applies a page as the use case would: plan, then "store" the written documents. */
function apply(
  profile: EntityProfile,
  store: Map<string, RecordDocument>,
  page: { rows?: unknown[]; deleted?: { id: string }[] },
  now = T1,
  loadId?: string,
) {
  const plan = planPage(
    profile,
    { rows: page.rows ?? [], deleted: page.deleted ?? [] },
    [...store.values()],
    { now, ...(loadId ? { loadId } : {}) },
  );
  for (const doc of plan.writes) store.set(doc.id, doc);
  return plan;
}

const person = (store: Map<string, RecordDocument>, id: string) => store.get(id) as PersonRecord;

describe('page planner: one-way records', () => {
  it('creates a valid document, then writes nothing for the same content', () => {
    const store = new Map<string, RecordDocument>();
    const account = profileOf('account');
    const first = apply(account, store, { rows: [accountRow()] });
    expect(first.stats).toMatchObject({ rows: 1, writes: 1, unchanged: 0 });
    const doc = genericRecordSchema.parse(store.get(ACCOUNT));
    expect(doc).toMatchObject({
      entity: 'account',
      values: { name: 'Analytical Ltd', industrycode: { value: 7, label: 'Consulting' } },
      dynamics: { etag: 'W/"30"', versionnumber: 30 },
    });
    // Same values, newer version (a change to a column we do not sync): no write.
    const second = apply(account, store, { rows: [accountRow({}, 31)] }, T2);
    expect(second.writes).toHaveLength(0);
    expect(second.stats.unchanged).toBe(1);
  });

  it('never lets an older version overwrite a newer one', () => {
    const store = new Map<string, RecordDocument>();
    const account = profileOf('account');
    apply(account, store, { rows: [accountRow({ name: 'New' }, 40)] });
    const stale = apply(account, store, { rows: [accountRow({ name: 'Old' }, 35)] });
    expect(stale.writes).toHaveLength(0);
    expect(genericRecordSchema.parse(store.get(ACCOUNT)).values.name).toBe('New');
  });

  it('flags an excluded row without updating it, and syncs it again when the filter flips back', () => {
    const store = new Map<string, RecordDocument>();
    const account = profileOf('account');
    expect(apply(account, store, { rows: [accountRow({ new_synctomkto: false })] }).writes).toHaveLength(0);
    expect(store.size).toBe(0);
    apply(account, store, { rows: [accountRow()] });
    const excluded = apply(
      account,
      store,
      { rows: [accountRow({ new_synctomkto: false, name: 'Hidden' }, 31)] },
      T2,
    );
    expect(excluded.writes).toHaveLength(1);
    const doc = genericRecordSchema.parse(store.get(ACCOUNT));
    expect(doc.values.name).toBe('Analytical Ltd');
    expect(doc.sync.excluded).toEqual({ at: T2 });
    // Excluded again: already flagged, nothing to write.
    expect(apply(account, store, { rows: [accountRow({ new_synctomkto: false }, 32)] }).writes).toHaveLength(
      0,
    );
    apply(account, store, { rows: [accountRow({ new_synctomkto: true, name: 'Back' }, 33)] });
    const back = genericRecordSchema.parse(store.get(ACCOUNT));
    expect(back.values.name).toBe('Back');
    expect(back.sync.excluded).toBeUndefined();
  });

  it('keeps a deleted row, flagged with the time, once', () => {
    const store = new Map<string, RecordDocument>();
    const account = profileOf('account');
    apply(account, store, { rows: [accountRow()] });
    const plan = apply(account, store, { deleted: [{ id: ACCOUNT.toUpperCase() }, { id: OTHER }] }, T2);
    expect(plan.writes).toHaveLength(1);
    expect(genericRecordSchema.parse(store.get(ACCOUNT)).sync.deletedInDynamics).toEqual({ at: T2 });
    expect(apply(account, store, { deleted: [{ id: ACCOUNT }] }).writes).toHaveLength(0);
  });

  it('flags a merged row with its survivor', () => {
    const store = new Map<string, RecordDocument>();
    apply(profileOf('account'), store, {
      rows: [accountRow({ merged: true, _masterid_value: OTHER, statecode: 1 })],
    });
    expect(genericRecordSchema.parse(store.get(ACCOUNT)).sync.merged).toEqual({ at: T1, into: OTHER });
  });

  it('turns invalid rows into errors and carries on with the rest of the page', () => {
    const store = new Map<string, RecordDocument>();
    const plan = apply(profileOf('account'), store, {
      rows: [accountRow({ numberofemployees: 'many', accountid: OTHER }), accountRow()],
    });
    expect(plan.errors).toHaveLength(1);
    expect(plan.errors[0]).toMatchObject({ id: OTHER, code: 'invalid_row' });
    expect(plan.stats.invalid).toBe(1);
    expect(store.has(ACCOUNT)).toBe(true);
  });

  it('marks records a resync did not see as deleted, and only those', () => {
    const store = new Map<string, RecordDocument>();
    const account = profileOf('account');
    apply(account, store, { rows: [accountRow(), accountRow({ accountid: OTHER })] }, T1, 'load-1');
    // The resync sees only ACCOUNT (unchanged content still gets stamped as seen).
    const resync = apply(account, store, { rows: [accountRow()] }, T2, 'load-2');
    expect(resync.writes).toHaveLength(1);
    const marked = [...store.values()].map((doc) => markUnseen(account, doc, 'load-2', T2)).filter(Boolean);
    expect(marked.map((doc) => doc?.id)).toEqual([OTHER]);
    expect(marked[0]?.sync.deletedInDynamics).toEqual({ at: T2 });
  });
});

describe('page planner: people', () => {
  const lead = profileOf('lead');
  const contact = profileOf('contact');

  it('maps a lead to a person with top-level marketing fields and agreed values', () => {
    const store = new Map<string, RecordDocument>();
    apply(lead, store, { rows: [leadRow()] });
    const doc = personRecordSchema.parse(store.get(LEAD));
    expect(doc).toMatchObject({
      id: LEAD,
      type: 'lead',
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.com',
      jobTitle: 'Engineer',
      phone: '+44 1',
      company: 'Analytical Ltd',
      ownerId: USER,
      status: { value: 1, label: 'New' },
      dynamics: { leadId: LEAD, etag: 'W/"10"', versionnumber: 10 },
    });
    expect(doc.dynamics.lead?.values.leadsourcecode).toEqual({ value: 1, label: 'Advertisement' });
    expect(doc.sync.agreed).toMatchObject({ firstName: 'Ada', jobTitle: 'Engineer', ownerId: USER });
  });

  it('a contact without an originating lead is its own person, company from its account name', () => {
    const store = new Map<string, RecordDocument>();
    apply(contact, store, { rows: [contactRow()] });
    expect(person(store, CONTACT)).toMatchObject({
      type: 'contact',
      company: 'Analytical Ltd',
      dynamics: { contactId: CONTACT },
    });
  });

  it('a qualified lead and its contact are one person, in either arrival order', () => {
    for (const order of ['lead-first', 'contact-first'] as const) {
      const store = new Map<string, RecordDocument>();
      const qualified = leadRow({ statecode: 1, statuscode: 3 }, 11);
      const fromLead = contactRow({ _originatingleadid_value: LEAD, jobtitle: 'CTO' });
      if (order === 'lead-first') {
        apply(lead, store, { rows: [qualified] });
        apply(contact, store, { rows: [fromLead] });
      } else {
        apply(contact, store, { rows: [fromLead] });
        apply(lead, store, { rows: [qualified] });
      }
      expect(store.size).toBe(1);
      const doc = person(store, LEAD);
      expect(doc).toMatchObject({
        type: 'contact',
        jobTitle: 'CTO',
        dynamics: { leadId: LEAD, contactId: CONTACT },
      });
      expect(doc.dynamics.etag).toBe('W/"20"');
      expect(doc.dynamics.lead?.statecode?.value).toBe(1);
    }
  });

  it('a qualified lead whose contact is deleted: the person falls back to the lead, as a fresh load builds it', () => {
    const qualified = leadRow({ statecode: 1, statuscode: 3, jobtitle: 'Engineer' }, 11);
    const incremental = new Map<string, RecordDocument>();
    apply(lead, incremental, { rows: [qualified] });
    apply(contact, incremental, { rows: [contactRow({ _originatingleadid_value: LEAD, jobtitle: 'CTO' })] });
    // A marketing edit not pushed yet survives the fall-back.
    incremental.set(LEAD, { ...person(incremental, LEAD), phone: '+44 2' });
    apply(contact, incremental, { deleted: [{ id: CONTACT }] }, T2);
    const fresh = new Map<string, RecordDocument>();
    apply(lead, fresh, { rows: [qualified] });
    const after = person(incremental, LEAD);
    const loaded = person(fresh, LEAD);
    expect(after).toMatchObject({
      type: 'lead',
      jobTitle: 'Engineer',
      phone: '+44 2',
      dynamics: { etag: 'W/"11"' },
    });
    expect(after.sync.deletedInDynamics).toBeUndefined();
    expect(after.sync.agreed).toEqual(loaded.sync.agreed);
    expect(after.status).toEqual(loaded.status);
    expect(after.dynamics.contact?.deletedAt).toBe(T2);
    // Without a live lead the person is flagged deleted, as before.
    const alone = new Map<string, RecordDocument>();
    apply(contact, alone, { rows: [contactRow()] });
    apply(contact, alone, { deleted: [{ id: CONTACT }] }, T2);
    expect(person(alone, CONTACT).sync.deletedInDynamics).toEqual({ at: T2 });
  });

  it('a lead update never overrides the contact-side values of a qualified person', () => {
    const store = new Map<string, RecordDocument>();
    apply(contact, store, { rows: [contactRow({ _originatingleadid_value: LEAD, jobtitle: 'CTO' })] });
    apply(lead, store, { rows: [leadRow({ jobtitle: 'Intern' }, 50)] });
    expect(person(store, LEAD).jobTitle).toBe('CTO');
    expect(person(store, LEAD).dynamics.lead?.versionnumber).toBe(50);
  });

  it('merges three ways: marketing edits survive a Dynamics edit to another field', () => {
    const store = new Map<string, RecordDocument>();
    apply(lead, store, { rows: [leadRow()] });
    store.set(LEAD, { ...person(store, LEAD), jobTitle: 'Director', firstName: 'Augusta' });
    apply(lead, store, { rows: [leadRow({ lastname: 'King', firstname: 'Ada L.' }, 12)] }, T2);
    const doc = person(store, LEAD);
    expect(doc.jobTitle).toBe('Director'); // marketing only
    expect(doc.lastName).toBe('King'); // Dynamics only
    expect(doc.firstName).toBe('Augusta'); // both: lead -> marketing wins
    expect(doc.sync.agreed).toMatchObject({ firstName: 'Ada L.', lastName: 'King', jobTitle: 'Engineer' });
  });

  it('replaying a page is a no-op (idempotent)', () => {
    const store = new Map<string, RecordDocument>();
    const rows = [leadRow(), leadRow({ leadid: OTHER, emailaddress1: 'x@example.com' })];
    expect(apply(lead, store, { rows }).writes).toHaveLength(2);
    const before = JSON.stringify([...store.values()]);
    const replay = apply(lead, store, { rows }, T2);
    expect(replay.writes).toHaveLength(0);
    expect(JSON.stringify([...store.values()])).toBe(before);
  });

  it('filter false excludes an existing person without touching its values', () => {
    const store = new Map<string, RecordDocument>();
    apply(contact, store, { rows: [contactRow()] });
    apply(contact, store, { rows: [contactRow({ new_synctomkto: false, jobtitle: 'Hidden' }, 21)] }, T2);
    expect(person(store, CONTACT).jobTitle).toBe('Engineer');
    expect(person(store, CONTACT).sync.excluded).toEqual({ at: T2 });
    apply(contact, store, { rows: [contactRow({ new_synctomkto: true, jobtitle: 'Shown' }, 22)] }, T2);
    expect(person(store, CONTACT).jobTitle).toBe('Shown');
    expect(person(store, CONTACT).sync.excluded).toBeUndefined();
  });

  it('a deleted contact flags the person; a deleted lead of a contact-person only its lead part', () => {
    const store = new Map<string, RecordDocument>();
    apply(contact, store, { rows: [contactRow({ _originatingleadid_value: LEAD })] });
    apply(lead, store, { rows: [leadRow({ statecode: 1 })] });
    apply(lead, store, { deleted: [{ id: LEAD }] }, T2);
    expect(person(store, LEAD).sync.deletedInDynamics).toBeUndefined();
    expect(person(store, LEAD).dynamics.lead?.deletedAt).toBe(T2);
    apply(contact, store, { deleted: [{ id: CONTACT }] }, T2);
    expect(person(store, LEAD).sync.deletedInDynamics).toEqual({ at: T2 });
  });

  it('flags a merged lead with its survivor', () => {
    const store = new Map<string, RecordDocument>();
    apply(lead, store, { rows: [leadRow({ merged: true, _masterid_value: OTHER, statecode: 2 })] });
    expect(person(store, LEAD).sync.merged).toEqual({ at: T1, into: OTHER });
  });

  it('lists the ids a page may touch, including originating leads and tombstones', () => {
    expect(
      lookupIdsOf(contact, {
        rows: [contactRow({ _originatingleadid_value: LEAD.toUpperCase() })],
        deleted: [{ id: ACCOUNT }],
      }).sort(),
    ).toEqual([LEAD, CONTACT, ACCOUNT].sort());
  });
});
