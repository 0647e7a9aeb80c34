import type { GenericRecord } from '../../shared/domain/record.model';
import {
  campaignsByList,
  membershipsOf,
  personRolesOf,
  rolesOf,
  withRelations,
  withRoles,
  type Membership,
  type OpportunityRole,
} from '../../shared/domain/relations.rules';
import type { PersonRecord } from '../../shared/domain/record.model';
import { sourceMeta } from './domain-fixtures';

const record = (
  entity: string,
  id: string,
  values: GenericRecord['values'],
  flags: { deleted?: boolean; state?: number } = {},
): GenericRecord => ({
  id,
  entity,
  values,
  dynamics: sourceMeta(
    id,
    entity,
    flags.state !== undefined ? { statecode: { value: flags.state, label: null } } : {},
  ),
  sync: { updatedAt: 'now', ...(flags.deleted ? { deletedInDynamics: { at: 'now' } } : {}) },
});
const ref = (id: string, table: string) => ({ id, table });

const lists = new Map(
  [
    record('list', 'l-news', { listname: 'Newsletter', type: false }),
    record('list', 'l-dyn', { listname: 'Seattle', type: true }),
    record('list', 'l-gone', { listname: 'Old', type: false }, { deleted: true }),
    record('list', 'l-closed', { listname: 'Archive', type: false }, { state: 1 }),
  ].map((l) => [l.id, l]),
);
const member = (id: string, list: string, row: string, flags = {}) =>
  record('listmember', id, { listid: ref(list, 'list'), entityid: ref(row, 'contact') }, flags);

describe('memberships', () => {
  it.each<[string, GenericRecord[], Membership[]]>([
    [
      'a static list',
      [member('m1', 'l-news', 'c1')],
      [{ listId: 'l-news', name: 'Newsletter', campaigns: [] }],
    ],
    ['a removed member', [member('m1', 'l-news', 'c1', { deleted: true })], []],
    ['a deleted list', [member('m1', 'l-gone', 'c1')], []],
    ['a dynamic list (no members of its own)', [member('m1', 'l-dyn', 'c1')], []],
    [
      'an inactive list keeps its members',
      [member('m1', 'l-closed', 'c1')],
      [{ listId: 'l-closed', name: 'Archive', campaigns: [] }],
    ],
    ['another person', [member('m1', 'l-news', 'c2')], []],
    ['an unknown list (not pulled yet)', [member('m1', 'l-new', 'c1')], []],
    [
      'the lead and the contact on one list: once, sorted by name',
      [member('m1', 'l-news', 'c1'), member('m2', 'l-news', 'lead1'), member('m3', 'l-closed', 'lead1')],
      [
        { listId: 'l-closed', name: 'Archive', campaigns: [] },
        { listId: 'l-news', name: 'Newsletter', campaigns: [] },
      ],
    ],
  ])('%s', (_case, members, expected) => {
    expect(membershipsOf(['c1', 'lead1'], members, lists)).toEqual(expected);
  });

  const campaign = (id: string, name: string, flags = {}) => record('campaign', id, { name }, flags);
  const item = (id: string, campaignId: string, entityid: string, entitytype = 'list', flags = {}) =>
    record('campaignitem', id, { campaignid: ref(campaignId, 'campaign'), entityid, entitytype }, flags);
  const campaigns = new Map(
    [
      campaign('k-spring', 'Spring launch'),
      campaign('k-fair', 'Trade fair'),
      campaign('k-gone', 'Old', { deleted: true }),
    ].map((c) => [c.id, c]),
  );

  it.each<[string, GenericRecord[], [string, string[]][]]>([
    [
      'a list in two campaigns, sorted by name',
      [item('i1', 'k-spring', 'l-news'), item('i2', 'k-fair', 'l-news')],
      [['l-news', ['Spring launch', 'Trade fair']]],
    ],
    ['an item taken out of its campaign', [item('i1', 'k-spring', 'l-news', 'list', { deleted: true })], []],
    ['a deleted campaign', [item('i1', 'k-gone', 'l-news')], []],
    ['a product the campaign also distributes', [item('i1', 'k-spring', 'p1', 'product')], []],
  ])('campaigns of lists: %s', (_case, items, expected) => {
    const found = campaignsByList(items, campaigns);
    expect([...found].map(([list, refs]) => [list, refs.map((r) => r.name)])).toEqual(expected);
  });

  it('a membership names the campaigns of its list', () => {
    const byList = campaignsByList([item('i1', 'k-spring', 'l-news')], campaigns);
    expect(membershipsOf(['c1'], [member('m1', 'l-news', 'c1')], lists, byList)).toEqual([
      {
        listId: 'l-news',
        name: 'Newsletter',
        campaigns: [{ campaignId: 'k-spring', name: 'Spring launch' }],
      },
    ]);
  });
});

describe('opportunity roles', () => {
  const roles = new Map([
    ['r-inf', 'Influencer'],
    ['r-dm', 'Decision Maker'],
  ]);
  const opp = (customer: { id: string; table: string } | null, flags = {}) =>
    record('opportunity', 'o1', { name: 'Deal', customerid: customer }, flags);
  const connection = (
    id: string,
    one: [string, string],
    two: [string, string],
    role: string | null,
    master: boolean,
    flags = {},
  ) =>
    record(
      'connection',
      id,
      {
        record1id: ref(...one),
        record2id: ref(...two),
        record1roleid: master ? null : role === null ? null : ref(role, 'connectionrole'),
        record2roleid: master ? (role === null ? null : ref(role, 'connectionrole')) : null,
        ismaster: master,
      },
      flags,
    );
  const accounts = new Map([['c1', 'a1']]);

  it.each<[string, GenericRecord, GenericRecord[], Partial<OpportunityRole>[]]>([
    [
      'a contact customer, with its account',
      opp(ref('c1', 'contact')),
      [],
      [{ rowId: 'c1', role: 'Customer', source: 'customer', accountId: 'a1' }],
    ],
    ['an account customer gives no person a role', opp(ref('a9', 'account')), [], []],
    [
      'a stakeholder stored twice (master and reciprocal) counts once, from the master',
      opp(null),
      [
        connection('x2', ['c2', 'contact'], ['o1', 'opportunity'], 'r-inf', false),
        connection('x1', ['o1', 'opportunity'], ['c2', 'contact'], 'r-inf', true),
      ],
      [{ rowId: 'c2', role: 'Influencer', source: 'connection', connectionId: 'x1' }],
    ],
    [
      'a connection without a role is a Stakeholder',
      opp(null),
      [connection('x1', ['o1', 'opportunity'], ['c2', 'contact'], null, true)],
      [{ rowId: 'c2', role: 'Stakeholder' }],
    ],
    [
      'a deactivated connection gives no role',
      opp(null),
      [connection('x1', ['o1', 'opportunity'], ['c2', 'contact'], 'r-dm', true, { state: 1 })],
      [],
    ],
    [
      'a deleted connection gives no role',
      opp(null),
      [connection('x1', ['o1', 'opportunity'], ['c2', 'contact'], 'r-dm', true, { deleted: true })],
      [],
    ],
    ['a deleted opportunity has no roles', opp(ref('c1', 'contact'), { deleted: true }), [], []],
    [
      'a closed opportunity keeps its roles; the customer may also be a stakeholder',
      opp(ref('c1', 'contact'), { state: 1 }),
      [connection('x1', ['o1', 'opportunity'], ['c1', 'contact'], 'r-dm', true)],
      [
        { rowId: 'c1', role: 'Customer' },
        { rowId: 'c1', role: 'Decision Maker' },
      ],
    ],
  ])('%s', (_case, opportunity, connections, expected) => {
    const found = rolesOf(opportunity, connections, roles, accounts);
    expect(found).toHaveLength(expected.length);
    expected.forEach((role, i) => expect(found[i]).toMatchObject(role));
  });

  it('are written once: working them out again changes nothing', () => {
    const opportunity = opp(ref('c1', 'contact'));
    const found = rolesOf(opportunity, [], roles, accounts);
    const written = withRoles(opportunity, found) as GenericRecord;
    expect(written).toMatchObject({ roles: found, roleRowIds: ['c1'] });
    expect(withRoles(written, found)).toBeUndefined();
    expect(personRolesOf(['c1'], [written])).toEqual([
      { opportunityId: 'o1', name: 'Deal', role: 'Customer' },
    ]);
  });

  it('a person with none gets no empty fields; one whose last role goes gets empty ones', () => {
    const person = { id: 'p', entity: 'person', type: 'contact' } as unknown as PersonRecord;
    expect(withRelations(person, [], [])).toBeUndefined();
    const member = withRelations(person, [{ listId: 'l', name: 'L', campaigns: [] }], []) as PersonRecord;
    expect(member).toMatchObject({ memberships: [{ listId: 'l', name: 'L', campaigns: [] }] });
    expect((member as Record<string, unknown>).opportunityRoles).toBeUndefined();
    expect(withRelations(member, [], [])).toMatchObject({ memberships: [] });
  });
});
