import { randomUUID } from 'node:crypto';
import { useStarted } from './lifecycle.helpers';
import { quietLog } from './pull-stack.fixture';
import { startRelationsStack, type Doc, type SimRow } from './relations.fixture';

type Campaign = { campaignId: string; name: string | null };
type Membership = { listId: string; name: string | null; campaigns: Campaign[] };

/** Each person's memberships as Dynamics holds them: listmember rows of static lists. */
function expectedMemberships(rows: (table: string) => SimRow[]): Map<string, Membership[]> {
  const lists = new Map(rows('list').map((list) => [String(list.listid), list]));
  const campaigns = new Map(rows('campaign').map((c) => [String(c.campaignid), String(c.name)]));
  const campaignsOf = (listId: string): Campaign[] =>
    rows('campaignitem')
      .filter((item) => item.entityid === listId && item.entitytype === 'list')
      .map((item) => ({
        campaignId: String(item._campaignid_value),
        name: campaigns.get(String(item._campaignid_value)) ?? null,
      }))
      .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.campaignId.localeCompare(b.campaignId));
  const out = new Map<string, Membership[]>();
  for (const member of rows('listmember')) {
    const list = lists.get(String(member._listid_value));
    if (list === undefined || list.type === true) continue;
    const entity = String(member._entityid_value);
    out.set(entity, [
      ...(out.get(entity) ?? []),
      {
        listId: String(list.listid),
        name: String(list.listname),
        campaigns: campaignsOf(String(list.listid)),
      },
    ]);
  }
  for (const [entity, memberships] of out) {
    out.set(
      entity,
      memberships.sort(
        (a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.listId.localeCompare(b.listId),
      ),
    );
  }
  return out;
}

const rowIdsOf = (person: Doc): string[] => {
  const dynamics = person.dynamics as { leadId?: string; contactId?: string };
  return [dynamics.leadId, dynamics.contactId].filter((id): id is string => id !== undefined);
};

describe('marketing lists: memberships pulled onto people, membership changes pushed to Dynamics', () => {
  const stack = useStarted(() => startRelationsStack(23));

  /** A static list of `table` rows (2 contact, 4 lead) and a person who is not on it. */
  const staticListAndOutsider = async (code: 2 | 4) => {
    const list = stack()
      .rows('list')
      .find((row) => row.type === false && row.createdfromcode === code) as SimRow;
    const members = new Set(
      stack()
        .rows('listmember')
        .filter((m) => m._listid_value === list.listid)
        .map((m) => String(m._entityid_value)),
    );
    const key = code === 2 ? 'contactId' : 'leadId';
    const person = (await stack().all('people')).find((p) => {
      const id = (p.dynamics as Record<string, string | undefined>)[key];
      return id !== undefined && !members.has(id) && p.listRequests === undefined;
    }) as Doc;
    return { listId: String(list.listid), listName: String(list.listname), person };
  };

  it('puts every static-list membership on its person, whichever of lists, members and people arrive first', async () => {
    // Members before the people they name: the memberships are added when the people arrive.
    await stack().pull('campaign', 'campaignitem', 'list', 'listmember', 'lead', 'contact');
    const expected = expectedMemberships((t) => stack().rows(t));
    expect(expected.size).toBeGreaterThan(5);
    const people = await stack().all('people');
    let checked = 0;
    for (const person of people) {
      const memberships = rowIdsOf(person).flatMap((id) => expected.get(id) ?? []);
      if (memberships.length === 0) {
        expect(person.memberships ?? []).toEqual([]);
        continue;
      }
      checked += 1;
      expect(person.memberships).toEqual(memberships);
    }
    expect(checked).toBeGreaterThan(5);
    // Dynamic lists have no members: nobody is on one.
    const dynamic = new Set(
      stack()
        .rows('list')
        .filter((l) => l.type === true)
        .map((l) => l.listid),
    );
    expect(dynamic.size).toBeGreaterThan(0);
    for (const person of people) {
      for (const m of (person.memberships ?? []) as Membership[]) expect(dynamic.has(m.listId)).toBe(false);
    }
  });

  it('drops a removed member and renames a renamed list on the next pull, writing nothing when replayed', async () => {
    const member = stack().rows('listmember')[0] as SimRow;
    const listId = String(member._listid_value);
    const entityId = String(member._entityid_value);
    const person = (await stack().all('people')).find((p) => rowIdsOf(p).includes(entityId)) as Doc;
    expect((person.memberships as Membership[]).map((m) => m.listId)).toContain(listId);

    stack().stack.dataverse.control.removeListMember(listId, entityId);
    await stack().pull('listmember');
    const after = await stack().doc('people', person.id);
    expect(((after.memberships ?? []) as Membership[]).map((m) => m.listId)).not.toContain(listId);

    const other = (await stack().all('people')).find((p) =>
      ((p.memberships ?? []) as Membership[]).some((m) => m.listId !== listId),
    ) as Doc;
    const renamed = ((other.memberships as Membership[]).find((m) => m.listId !== listId) as Membership)
      .listId;
    stack().stack.dataverse.control.updateRow('list', renamed, { listname: 'Renamed in Dynamics' });
    await stack().pull('list');
    const named = (await stack().doc('people', other.id)).memberships as Membership[];
    expect(named).toContainEqual(expect.objectContaining({ listId: renamed, name: 'Renamed in Dynamics' }));

    const before = (await stack().all('people')).map((p) => [p.id, p._etag]);
    await stack().services.sync.pullEntity('listmember', { resyncLoadId: 'replay' }, { log: quietLog });
    expect((await stack().all('people')).map((p) => [p.id, p._etag])).toEqual(before);
  });

  it('names the campaigns each membership puts a person in, and follows a renamed campaign and a list taken out of one', async () => {
    const items = stack()
      .rows('campaignitem')
      .filter((item) => item.entitytype === 'list');
    const inCampaign = (await stack().all('people')).find((p) =>
      ((p.memberships ?? []) as Membership[]).some((m) => m.campaigns.length > 0),
    ) as Doc;
    const membership = (inCampaign.memberships as Membership[]).find(
      (m) => m.campaigns.length > 0,
    ) as Membership;
    const campaign = membership.campaigns[0] as Campaign;
    expect(
      items.some((i) => i.entityid === membership.listId && i._campaignid_value === campaign.campaignId),
    ).toBe(true);

    stack().stack.dataverse.control.updateRow('campaign', campaign.campaignId, { name: 'Autumn relaunch' });
    await stack().pull('campaign');
    const renamed = (await stack().doc('people', inCampaign.id)).memberships as Membership[];
    expect(renamed.find((m) => m.listId === membership.listId)?.campaigns).toContainEqual({
      campaignId: campaign.campaignId,
      name: 'Autumn relaunch',
    });

    const item = items.find(
      (i) => i.entityid === membership.listId && i._campaignid_value === campaign.campaignId,
    ) as SimRow;
    stack().stack.dataverse.control.deleteRow('campaignitem', String(item.campaignitemid));
    await stack().pull('campaignitem');
    const after = (await stack().doc('people', inCampaign.id)).memberships as Membership[];
    expect(
      after.find((m) => m.listId === membership.listId)?.campaigns.map((c) => c.campaignId),
    ).not.toContain(campaign.campaignId);
  });

  it('adds and removes a person through AddMemberList and RemoveMemberList, idempotently', async () => {
    const { listId, listName, person } = await staticListAndOutsider(2);
    const contactId = (person.dynamics as { contactId: string }).contactId;
    const membersOf = () =>
      stack()
        .rows('listmember')
        .filter((m) => m._listid_value === listId && m._entityid_value === contactId);

    await stack().edit(person.id, { listRequests: [{ listId, action: 'add' }] });
    const added = await stack().push([person.id]);
    expect(added.rejected).toBe(0);
    expect(membersOf()).toHaveLength(1);
    let doc = await stack().doc('people', person.id);
    expect(doc.listRequests).toBeUndefined();
    expect(doc.memberships).toContainEqual(expect.objectContaining({ listId, name: listName }));
    expect(doc.listRequestResults).toEqual([
      expect.objectContaining({ listId, action: 'add', outcome: 'added' }),
    ]);

    // The same request again (a replay, or asked twice): still one membership.
    await stack().edit(person.id, { listRequests: [{ listId, action: 'add' }] });
    await stack().push([person.id]);
    expect(membersOf()).toHaveLength(1);

    // The pull confirms it and keeps it.
    await stack().pull('listmember');
    expect((await stack().doc('people', person.id)).memberships).toContainEqual(
      expect.objectContaining({ listId, name: listName }),
    );

    await stack().edit(person.id, {
      listRequests: [
        { listId, action: 'remove' },
        { listId, action: 'remove' },
      ],
    });
    await stack().push([person.id]);
    expect(membersOf()).toHaveLength(0);
    doc = await stack().doc('people', person.id);
    expect(((doc.memberships ?? []) as Membership[]).map((m) => m.listId)).not.toContain(listId);
    expect((doc.listRequestResults as { outcome: string }[]).slice(-2).map((r) => r.outcome)).toEqual([
      'removed',
      'removed',
    ]);
    await stack().pull('listmember');
    doc = await stack().doc('people', person.id);
    expect(((doc.memberships ?? []) as Membership[]).map((m) => m.listId)).not.toContain(listId);
  });

  it('refuses an unknown list, a dynamic list, a list of the wrong table and a malformed request, once each, with a recorded error', async () => {
    const { listId: leadList } = await staticListAndOutsider(4);
    const dynamic = String(
      (
        stack()
          .rows('list')
          .find((l) => l.type === true) as SimRow
      ).listid,
    );
    const unknown = randomUUID();
    const contactOnly = (await stack().all('people')).find(
      (p) =>
        (p.dynamics as { contactId?: string; leadId?: string }).contactId !== undefined &&
        (p.dynamics as { leadId?: string }).leadId === undefined &&
        p.listRequests === undefined,
    ) as Doc;
    const before = stack().rows('listmember').length;
    const requestsBefore = stack().stack.dataverse.control.counters().total.requests;

    await stack().edit(contactOnly.id, {
      listRequests: [
        { listId: unknown, action: 'add' },
        { listId: dynamic, action: 'add' },
        { listId: leadList, action: 'add' },
        { listId: 'not-a-guid', action: 'join' },
      ],
    });
    const summary = await stack().push([contactOnly.id]);
    expect(summary.rejected).toBe(4);
    expect(summary.retrying).toBe(0);
    expect(stack().rows('listmember')).toHaveLength(before);
    const doc = await stack().doc('people', contactOnly.id);
    expect(doc.listRequests).toBeUndefined();
    expect(
      (doc.listRequestResults as { code: string; outcome: string }[]).map((r) => [r.outcome, r.code]),
    ).toEqual([
      ['failed', 'unknown_list'],
      ['failed', 'dynamic_list'],
      ['failed', 'wrong_member_type'],
      ['failed', 'invalid_request'],
    ]);
    const messages = (doc.listRequestResults as { message: string }[]).map((r) => r.message);
    expect(messages[1]).toMatch(/is dynamic: Dynamics decides its members from the list's query/);
    expect(messages[2]).toMatch(/holds lead rows and this person has no lead row/);

    const errors = await stack().services.sync.searchErrors({
      entity: 'person',
      status: 'open',
      q: contactOnly.id,
      limit: 50,
    });
    expect(errors.errors.map((e) => e.code).sort()).toEqual(
      expect.arrayContaining(['dynamic_list', 'invalid_request', 'unknown_list', 'wrong_member_type']),
    );

    // Nothing is retried: pushing the person again asks Dynamics nothing.
    const asked = stack().stack.dataverse.control.counters().total.requests - requestsBefore;
    await stack().push([contactOnly.id]);
    expect(stack().stack.dataverse.control.counters().total.requests - requestsBefore).toBe(asked);
  });

  it('keeps a request Dynamics did not answer and schedules it for the push-retry queue', async () => {
    const { listId, person } = await staticListAndOutsider(2);
    await stack().edit(person.id, { listRequests: [{ listId, action: 'add' }] });
    stack().stack.dataverse.control.failNext({ count: 8, status: 503, pathPattern: 'batch' });
    const summary = await stack().push([person.id]);
    stack().stack.dataverse.control.clearFaults();
    expect(summary.retrying).toBe(1);
    expect((await stack().doc('people', person.id)).listRequests).toEqual([{ listId, action: 'add' }]);
    // The retry (here: the next delivery) carries it out.
    const again = await stack().push([person.id]);
    expect(again.retrying).toBe(0);
    expect((await stack().doc('people', person.id)).listRequests).toBeUndefined();
  });
});
