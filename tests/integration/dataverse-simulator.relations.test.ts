// The rest of the reference's data model through the real HTTP API: marketing lists and their
// members, campaigns, multi-select choices, stakeholder connections and team memberships, with
// their change tracking and the seed that fills them.
import type { DataverseSimulator } from '../../local/dataverse/simulator.server';
import { useSimulatorWithApi, type Answer, type ApiCaller } from './dataverse-simulator.helpers';

const TRACK = { Prefer: 'odata.track-changes' };
const ANNOTATED = { Prefer: 'odata.include-annotations="*"' };
const FV = '@OData.Community.Display.V1.FormattedValue';
const LLN = '@Microsoft.Dynamics.CRM.lookuplogicalname';
const MISSING = '00000000-0000-4000-8000-00000000dead';

type Row = Record<string, unknown>;

const errorOf = (a: Answer): { code: string; message: string } => a.json.error;

const control = (sim: DataverseSimulator, method: string, path: string, body?: unknown) =>
  fetch(`${sim.url}/_sim/${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

/** Rows of a table that match, in key order. */
const rowsWhere = (sim: DataverseSimulator, table: string, match: (r: Row) => boolean): Row[] =>
  sim.control.listRows(table, { limit: 100_000 }).filter(match);

/** A tracked table's deltaLink, taken now. */
const deltaLinkOf = async (api: ApiCaller, query: string): Promise<string> => {
  const r = await api.get(query, TRACK);
  expect(r.status).toBe(200);
  expect(r.json['@odata.nextLink']).toBeUndefined();
  return r.json['@odata.deltaLink'] as string;
};

const changesSince = async (
  api: ApiCaller,
  deltaLink: string,
): Promise<{ rows: Row[]; deleted: string[] }> => {
  const r = await api.get(deltaLink, TRACK);
  expect(r.status).toBe(200);
  const value = r.json.value as Row[];
  return {
    rows: value.filter((v) => v.reason === undefined),
    deleted: value.filter((v) => v.reason === 'deleted').map((v) => v.id as string),
  };
};

describe('dataverse simulator: the seeded relations', () => {
  const { sim } = useSimulatorWithApi({ records: 1000, seed: 42 });

  it('seeds lists, static with members of their own table and dynamic with a query only', () => {
    const lists = sim().control.listRows('list');
    expect(lists).toHaveLength(10);
    const members = sim().control.listRows('listmember', { limit: 10_000 });
    const dynamic = lists.filter((l) => l.type === true);
    const statics = lists.filter((l) => l.type === false);
    expect(dynamic.length).toBeGreaterThan(0);
    expect(statics.length).toBeGreaterThan(dynamic.length);
    for (const list of dynamic) {
      expect(list.query).toMatch(/^<fetch /);
      expect(list.membercount).toBe(0);
      expect(members.some((m) => m._listid_value === list.listid)).toBe(false);
    }
    const tables: Record<number, string> = { 1: 'account', 2: 'contact', 4: 'lead' };
    for (const list of statics) {
      const own = members.filter((m) => m._listid_value === list.listid);
      expect(own.length).toBe(list.membercount);
      expect(own.length).toBeGreaterThan(0);
      const table = tables[list.createdfromcode as number] as string;
      for (const m of own) {
        expect(m[`_entityid_value${LLN}`]).toBe(table);
        expect(sim().control.getRow(table, m._entityid_value as string)).toBeDefined();
      }
    }
  });

  it('seeds campaigns with the lists they distribute, the stakeholder roles and connections in pairs', () => {
    const campaigns = sim().control.listRows('campaign');
    expect(campaigns).toHaveLength(3);
    const items = sim().control.listRows('campaignitem');
    for (const c of campaigns) expect(items.some((i) => i._campaignid_value === c.campaignid)).toBe(true);
    for (const i of items) expect(sim().control.getRow('list', i.entityid as string)).toBeDefined();
    const roles = sim().control.listRows('connectionrole');
    expect(roles.map((r) => r.name).sort()).toEqual(['Decision Maker', 'Influencer', 'Stakeholder']);
    const connections = sim().control.listRows('connection', { limit: 10_000 });
    const masters = connections.filter((c) => c.ismaster === true);
    expect(masters.length).toBeGreaterThan(40);
    expect(masters.length).toBeLessThanOrEqual(50);
    expect(connections).toHaveLength(masters.length * 2);
    for (const m of masters) {
      expect(m).toMatchObject({
        [`_record1id_value${LLN}`]: 'opportunity',
        [`_record2id_value${LLN}`]: 'contact',
        record1objecttypecode: 3,
        record2objecttypecode: 2,
        _record1roleid_value: null,
      });
      const other = sim().control.getRow('connection', m._relatedconnectionid_value as string);
      expect(other).toMatchObject({
        ismaster: false,
        _record1id_value: m._record2id_value,
        _record2id_value: m._record1id_value,
        _record1roleid_value: m._record2roleid_value,
        _relatedconnectionid_value: m.connectionid,
      });
    }
  });

  it('gives some people multi-select interests and team memberships to every team', () => {
    for (const table of ['contact', 'lead']) {
      const people = sim().control.listRows(table, { limit: 10_000 });
      const interested = people.filter((p) => p.new_interests !== null);
      expect(interested.length).toBeGreaterThan(people.length / 5);
      expect(interested.length).toBeLessThan(people.length / 2);
      for (const p of interested) expect(p.new_interests).toMatch(/^10000000[0-2](,10000000[0-2])*$/);
    }
    const teams = sim().control.listRows('team');
    const memberships = sim().control.listRows('teammembership');
    for (const t of teams) expect(memberships.some((m) => m.teamid === t.teamid)).toBe(true);
  });
});

describe('dataverse simulator: marketing lists', () => {
  const { sim, api } = useSimulatorWithApi({ records: 400, seed: 8 });
  afterEach(() => sim().control.clearPrivileges());

  /** A list created through the API, with a few members when static, so each test has its own. */
  const newList = async (createdfromcode: number, dynamic = false): Promise<string> => {
    const r = await api().post(
      'lists',
      {
        listname: `${dynamic ? 'Dynamic' : 'Static'} ${createdfromcode}`,
        type: dynamic,
        createdfromcode,
        ...(dynamic
          ? { query: '<fetch><entity name="contact"><attribute name="contactid" /></entity></fetch>' }
          : {}),
      },
      { Prefer: 'return=representation' },
    );
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ membercount: 0, statecode: 0, statuscode: 0, lockstatus: false });
    const listId = r.json.listid as string;
    if (!dynamic) {
      const table = createdfromcode === 2 ? 'contact' : 'lead';
      const ids = sim()
        .control.listRows(table, { offset: 10, limit: 3 })
        .map((row) => row[`${table}id`] as string);
      sim().control.addListMembers(listId, ids);
    }
    return listId;
  };
  const membersOf = (listId: string) => rowsWhere(sim(), 'listmember', (m) => m._listid_value === listId);
  const nonMember = (listId: string, table: string, key: string) => {
    const members = new Set(membersOf(listId).map((m) => m._entityid_value));
    return sim()
      .control.listRows(table, { limit: 1000 })
      .find((r) => !members.has(r[key]))?.[key] as string;
  };

  it('reads lists with their type and member table as Dataverse labels them', async () => {
    const dynamicList = await newList(2, true);
    const contacts = await newList(2);
    const r = await api().get(
      'lists?$select=listname,type,createdfromcode,query,membercount,statecode',
      ANNOTATED,
    );
    expect(r.status).toBe(200);
    const row = (r.json.value as Row[]).find((l) => l.listid === dynamicList) as Row;
    expect(row).toMatchObject({
      type: true,
      [`type${FV}`]: 'Dynamic',
      statecode: 0,
      [`statecode${FV}`]: 'Active',
    });
    const contactList = (r.json.value as Row[]).find((l) => l.listid === contacts) as Row;
    expect(contactList).toMatchObject({
      type: false,
      [`type${FV}`]: 'Static',
      [`createdfromcode${FV}`]: 'Contact',
    });
  });

  it('AddMemberList adds a member once, as a listmember row that change tracking reports', async () => {
    const listId = await newList(2);
    const contact = nonMember(listId, 'contact', 'contactid');
    const deltaLink = await deltaLinkOf(api(), 'listmembers?$select=_listid_value,_entityid_value');
    const before = sim().control.getRow('list', listId)?.membercount as number;
    const added = await api().post(`lists(${listId})/Microsoft.Dynamics.CRM.AddMemberList`, {
      EntityId: contact,
    });
    expect(added.status).toBe(200);
    expect(added.json).toEqual({
      '@odata.context': `${sim().apiUrl}$metadata#Microsoft.Dynamics.CRM.AddMemberListResponse`,
      Id: expect.any(String),
    });
    const again = await api().post(`lists(${listId})/Microsoft.Dynamics.CRM.AddMemberList`, {
      EntityId: contact,
    });
    expect(again.json.Id).toBe(added.json.Id);
    expect(membersOf(listId).filter((m) => m._entityid_value === contact)).toHaveLength(1);
    expect(sim().control.getRow('list', listId)?.membercount).toBe(before + 1);

    const read = await api().get(
      `listmembers(${added.json.Id})?$select=_listid_value,_entityid_value`,
      ANNOTATED,
    );
    expect(read.json).toMatchObject({
      listmemberid: added.json.Id,
      _listid_value: listId,
      [`_listid_value${LLN}`]: 'list',
      _entityid_value: contact,
      [`_entityid_value${LLN}`]: 'contact',
    });
    const changes = await changesSince(api(), deltaLink);
    expect(changes.rows.map((r) => r.listmemberid)).toEqual([added.json.Id]);
  });

  it('RemoveMemberList removes a member as a tombstone; removing a non-member succeeds', async () => {
    const listId = await newList(2);
    const member = membersOf(listId)[0] as Row;
    const deltaLink = await deltaLinkOf(api(), 'listmembers?$select=_entityid_value');
    const removed = await api().post(`lists(${listId})/Microsoft.Dynamics.CRM.RemoveMemberList`, {
      EntityId: member._entityid_value,
    });
    expect(removed.status).toBe(204);
    const nobody = await api().post(`lists(${listId})/Microsoft.Dynamics.CRM.RemoveMemberList`, {
      EntityId: MISSING,
    });
    expect(nobody.status).toBe(204);
    const changes = await changesSince(api(), deltaLink);
    expect(changes).toEqual({ rows: [], deleted: [member.listmemberid] });
    expect(sim().control.getRow('list', listId)?.membercount).toBe(membersOf(listId).length);
  });

  it('AddListMembersList adds typed members, each once', async () => {
    const listId = await newList(4);
    const [a, b] = sim()
      .control.listRows('lead', { limit: 400 })
      .filter((l) => !membersOf(listId).some((m) => m._entityid_value === l.leadid))
      .map((l) => l.leadid as string);
    const body = (ids: (string | undefined)[]) => ({
      List: { listid: listId, '@odata.type': 'Microsoft.Dynamics.CRM.list' },
      Members: ids.map((id) => ({ leadid: id, '@odata.type': 'Microsoft.Dynamics.CRM.lead' })),
    });
    expect((await api().post('AddListMembersList', body([a]))).status).toBe(204);
    expect((await api().post('AddListMembersList', body([a, b]))).status).toBe(204);
    const ids = membersOf(listId).map((m) => m._entityid_value);
    expect(ids.filter((id) => id === a || id === b).sort()).toEqual([a, b].sort());
  });

  it('refuses members of another table, dynamic lists, unknown lists and bad parameters', async () => {
    const contactList = await newList(2);
    const dynamicList = await newList(2, true);
    const lead = sim().control.listRows('lead', { limit: 1 })[0]?.leadid as string;
    const typed = await api().post('AddListMembersList', {
      List: { listid: contactList, '@odata.type': 'Microsoft.Dynamics.CRM.list' },
      Members: [{ leadid: lead, '@odata.type': 'Microsoft.Dynamics.CRM.lead' }],
    });
    expect([typed.status, errorOf(typed)]).toEqual([
      400,
      {
        code: '0x80040203',
        message: 'The marketing list holds contact records only: a lead cannot be a member of it.',
      },
    ]);
    // EntityId alone is looked up in the list's own member table.
    const untyped = await api().post(`lists(${contactList})/Microsoft.Dynamics.CRM.AddMemberList`, {
      EntityId: lead,
    });
    expect([untyped.status, errorOf(untyped)]).toEqual([
      404,
      { code: '0x80040217', message: `contact With Id = ${lead} Does Not Exist` },
    ]);
    const contact = nonMember(dynamicList, 'contact', 'contactid');
    for (const action of ['AddMemberList', 'RemoveMemberList']) {
      const refused = await api().post(`lists(${dynamicList})/Microsoft.Dynamics.CRM.${action}`, {
        EntityId: contact,
      });
      expect([action, refused.status, errorOf(refused).code]).toEqual([action, 400, '0x80040203']);
      expect(errorOf(refused).message).toMatch(/dynamic marketing list/);
    }
    const unknown = await api().post(`lists(${MISSING})/Microsoft.Dynamics.CRM.AddMemberList`, {
      EntityId: contact,
    });
    expect(errorOf(unknown)).toEqual({
      code: '0x80040217',
      message: `list With Id = ${MISSING} Does Not Exist`,
    });
    const missing = await api().post(`lists(${contactList})/Microsoft.Dynamics.CRM.AddMemberList`, {});
    expect([missing.status, errorOf(missing).message]).toEqual([400, "Parameter 'EntityId' is required."]);
    const notGuid = await api().post(`lists(${contactList})/Microsoft.Dynamics.CRM.AddMemberList`, {
      EntityId: 'x',
    });
    expect(notGuid.status).toBe(400);
    const elsewhere = await api().post(`contacts(${contact})/Microsoft.Dynamics.CRM.AddMemberList`, {
      EntityId: contact,
    });
    expect(elsewhere.status).toBe(404);
  });

  it('listmember rows are written only through the actions; the list privilege guards them', async () => {
    const listId = await newList(2);
    const member = membersOf(listId)[0] as Row;
    const create = await api().post('listmembers', { 'listid@odata.bind': `/lists(${listId})` });
    expect([create.status, errorOf(create).code]).toEqual([400, '0x80040800']);
    const del = await api().del(`listmembers(${member.listmemberid as string})`);
    expect([del.status, errorOf(del).code]).toEqual([400, '0x80040800']);
    sim().control.denyPrivilege('list', 'write');
    const denied = await api().post(`lists(${listId})/Microsoft.Dynamics.CRM.RemoveMemberList`, {
      EntityId: member._entityid_value,
    });
    expect([denied.status, errorOf(denied).code]).toEqual([403, '0x80040220']);
  });

  it('deleting a member row or a list takes the memberships with it, as tombstones', async () => {
    const listId = await newList(2);
    const [first, second] = membersOf(listId) as [Row, Row];
    const deltaLink = await deltaLinkOf(api(), 'listmembers?$select=_entityid_value');
    expect((await api().del(`contacts(${first._entityid_value as string})`)).status).toBe(204);
    expect((await changesSince(api(), deltaLink)).deleted).toContain(first.listmemberid);
    expect(membersOf(listId).some((m) => m.listmemberid === first.listmemberid)).toBe(false);
    sim().control.deleteRow('list', listId);
    expect(membersOf(listId)).toEqual([]);
    expect((await changesSince(api(), deltaLink)).deleted).toContain(second.listmemberid);
  });

  it('the control API adds and removes members as a Dynamics user', async () => {
    const listId = await newList(2);
    const dynamicList = await newList(2, true);
    const contact = nonMember(listId, 'contact', 'contactid');
    const added = await control(sim(), 'POST', `lists/${listId}/members`, { entityIds: [contact, contact] });
    expect(added.status).toBe(200);
    const { ids } = (await added.json()) as { ids: string[] };
    expect(new Set(ids).size).toBe(1);
    expect(sim().control.getRow('list', listId)?._modifiedby_value).toBe(sim().control.defaultUserId());
    expect((await control(sim(), 'DELETE', `lists/${listId}/members/${contact}`)).status).toBe(200);
    expect(sim().control.getRow('listmember', ids[0] as string)).toBeUndefined();
    expect(
      (await control(sim(), 'POST', `lists/${dynamicList}/members`, { entityIds: [contact] })).status,
    ).toBe(400);
  });
});

describe('dataverse simulator: campaigns', () => {
  const { sim, api } = useSimulatorWithApi({ records: 400, seed: 8 });

  it('reads campaigns and the lists they distribute; AddItemCampaign and RemoveItemCampaign', async () => {
    const campaigns = await api().get('campaigns?$select=name,statecode,statuscode', ANNOTATED);
    expect(campaigns.status).toBe(200);
    const campaign = campaigns.json.value[0] as Row;
    expect(campaign[`statuscode${FV}`]).toMatch(/^(Proposed|Ready To Launch|Launched|Completed)$/);
    const campaignId = campaign.campaignid as string;
    const distributed = new Set(
      rowsWhere(sim(), 'campaignitem', (i) => i._campaignid_value === campaignId).map((i) => i.entityid),
    );
    const list = sim()
      .control.listRows('list')
      .find((l) => !distributed.has(l.listid))?.listid as string;
    const body = { CampaignId: campaignId, EntityId: list, EntityName: 'list' };
    const added = await api().post('AddItemCampaign', body);
    expect(added.status).toBe(200);
    expect(added.json).toEqual({
      '@odata.context': `${sim().apiUrl}$metadata#Microsoft.Dynamics.CRM.AddItemCampaignResponse`,
      CampaignItemId: expect.any(String),
    });
    expect((await api().post('AddItemCampaign', body)).json.CampaignItemId).toBe(added.json.CampaignItemId);
    const item = await api().get(
      `campaignitems(${added.json.CampaignItemId})?$select=_campaignid_value,entityid,entitytype`,
    );
    expect(item.json).toMatchObject({ _campaignid_value: campaignId, entityid: list, entitytype: 'list' });
    expect((await api().post('RemoveItemCampaign', { CampaignId: campaignId, EntityId: list })).status).toBe(
      204,
    );
    expect(sim().control.getRow('campaignitem', added.json.CampaignItemId)).toBeUndefined();
    const product = await api().post('AddItemCampaign', { ...body, EntityName: 'product' });
    expect(product.status).toBe(400);
    const unknown = await api().post('AddItemCampaign', { ...body, CampaignId: MISSING });
    expect(errorOf(unknown).message).toBe(`campaign With Id = ${MISSING} Does Not Exist`);
  });
});

describe('dataverse simulator: multi-select choices', () => {
  const { sim, api } = useSimulatorWithApi({ records: 200, seed: 9 });

  const interested = () =>
    sim()
      .control.listRows('contact', { limit: 200 })
      .find((c) => c.new_interests === '100000000,100000002');

  it('reads the values as one string and the labels joined with "; "', async () => {
    const contact = interested() as Row;
    const r = await api().get(`contacts(${contact.contactid as string})?$select=new_interests`, ANNOTATED);
    expect(r.json).toMatchObject({
      new_interests: '100000000,100000002',
      [`new_interests${FV}`]: 'Email; Webinars',
    });
    const plain = await api().get(`contacts(${contact.contactid as string})?$select=new_interests`);
    expect(plain.json).not.toHaveProperty(`new_interests${FV}`);
  });

  it('writes back the same way; null and "" clear; the change is tracked', async () => {
    const id = sim().control.listRows('contact', { limit: 1 })[0]?.contactid as string;
    const deltaLink = await deltaLinkOf(api(), 'contacts?$select=new_interests');
    const written = await api().patch(
      `contacts(${id})`,
      { new_interests: '100000002,100000001,100000002' },
      { Prefer: 'return=representation,odata.include-annotations="*"' },
    );
    expect(written.json).toMatchObject({
      new_interests: '100000001,100000002',
      [`new_interests${FV}`]: 'Events; Webinars',
    });
    expect((await changesSince(api(), deltaLink)).rows).toEqual([
      expect.objectContaining({ contactid: id, new_interests: '100000001,100000002' }),
    ]);
    await api().patch(`contacts(${id})`, { new_interests: null });
    expect(sim().control.getRow('contact', id)?.new_interests).toBeNull();
    await api().patch(`contacts(${id})`, { new_interests: '100000000' });
    await api().patch(`contacts(${id})`, { new_interests: '' });
    expect(sim().control.getRow('contact', id)?.new_interests).toBeNull();
    const lead = await api().post('leads', { lastname: 'Keen', new_interests: '100000001' });
    expect(lead.status).toBe(204);
  });

  it('refuses an unknown option, a value that is no option, and a value that is not a string', async () => {
    const id = sim().control.listRows('contact', { limit: 1 })[0]?.contactid as string;
    const unknown = await api().patch(`contacts(${id})`, { new_interests: '100000000,100000009' });
    expect([unknown.status, errorOf(unknown)]).toEqual([
      400,
      {
        code: '0x8004431a',
        message:
          "A validation error occurred.  The value 100000009 of 'new_interests' on record of type 'contact' is outside the valid range. Accepted Values: 100000000,100000001,100000002",
      },
    ]);
    const word = await api().patch(`contacts(${id})`, { new_interests: 'Email' });
    expect([word.status, errorOf(word).code]).toEqual([400, '0x8004431a']);
    const number = await api().patch(`contacts(${id})`, { new_interests: 100000000 });
    expect([number.status, errorOf(number).code]).toEqual([400, '0x80048d19']);
    expect(errorOf(number).message).toContain("to the expected type 'Edm.String'");
  });

  it('the metadata knows it as Virtual / MultiSelectPicklistType with its options', async () => {
    const attr = await api().get(
      "EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='new_interests')?$select=LogicalName,AttributeType,AttributeTypeName",
    );
    expect(attr.json).toMatchObject({
      '@odata.type': '#Microsoft.Dynamics.CRM.MultiSelectPicklistAttributeMetadata',
      LogicalName: 'new_interests',
      AttributeType: 'Virtual',
      AttributeTypeName: { Value: 'MultiSelectPicklistType' },
    });
    const cast = await api().get(
      "EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.MultiSelectPicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet",
    );
    expect(cast.json.value).toHaveLength(1);
    expect(cast.json.value[0].OptionSet.Options.map((o: { Value: number }) => o.Value)).toEqual([
      100000000, 100000001, 100000002,
    ]);
  });

  it('an option added through the control API is accepted and labelled on that table only', async () => {
    const added = await control(sim(), 'POST', 'tables/contact/columns/new_interests/options', {
      value: 100000003,
      label: 'Podcasts',
    });
    expect(added.status).toBe(200);
    const id = sim().control.listRows('contact', { limit: 1 })[0]?.contactid as string;
    const written = await api().patch(
      `contacts(${id})`,
      { new_interests: '100000003,100000000' },
      { Prefer: 'return=representation,odata.include-annotations="*"' },
    );
    expect(written.json[`new_interests${FV}`]).toBe('Email; Podcasts');
    expect((await api().post('leads', { lastname: 'X', new_interests: '100000003' })).status).toBe(400);
    const twice = await control(sim(), 'POST', 'tables/contact/columns/new_interests/options', {
      value: 100000003,
      label: 'Again',
    });
    expect(twice.status).toBe(400);
    expect(() => sim().control.addOption('contact', 'firstname', { value: 1, label: 'No' })).toThrow(
      /not a choice column/,
    );
    sim().control.addOption('contact', 'preferredcontactmethodcode', { value: 6, label: 'Carrier pigeon' });
    expect((await api().patch(`contacts(${id})`, { preferredcontactmethodcode: 6 })).status).toBe(204);
  });
});

describe('dataverse simulator: stakeholder connections', () => {
  const { sim, api } = useSimulatorWithApi({ records: 200, seed: 10 });

  const role = (name: string) =>
    sim()
      .control.listRows('connectionrole')
      .find((r) => r.name === name)?.connectionroleid as string;

  it('reads connections with their ends, roles and annotations; roles by name', async () => {
    const roles = await api().get('connectionroles?$select=name,category', ANNOTATED);
    expect((roles.json.value as Row[]).map((r) => r.name).sort()).toEqual([
      'Decision Maker',
      'Influencer',
      'Stakeholder',
    ]);
    expect(roles.json.value[0][`category${FV}`]).toBe('Stakeholder');
    const r = await api().get(
      `connections?$select=_record1id_value,_record2id_value,_record2roleid_value,ismaster&$filter=ismaster eq true`,
      ANNOTATED,
    );
    const row = r.json.value[0] as Row;
    expect(row).toMatchObject({
      [`_record1id_value${LLN}`]: 'opportunity',
      [`_record2id_value${LLN}`]: 'contact',
      [`_record2roleid_value${LLN}`]: 'connectionrole',
      _record1id_value: expect.any(String),
    });
    expect(['Stakeholder', 'Decision Maker', 'Influencer']).toContain(row[`_record2roleid_value${FV}`]);
    const contact = sim().control.getRow('contact', row._record2id_value as string);
    expect(row[`_record2id_value${FV}`]).toBe(contact?.fullname);
  });

  it('a connection created through the API is stored twice, tracked, and deleted together', async () => {
    const deltaLink = await deltaLinkOf(
      api(),
      'connections?$select=_record1id_value,_record2id_value,ismaster',
    );
    const opportunity = sim().control.listRows('opportunity', { limit: 1 })[0]?.opportunityid as string;
    const contact = sim().control.listRows('contact', { limit: 1 })[0]?.contactid as string;
    const created = await api().post(
      'connections',
      {
        'record1id_opportunity@odata.bind': `/opportunities(${opportunity})`,
        'record2id_contact@odata.bind': `/contacts(${contact})`,
        'record2roleid@odata.bind': `/connectionroles(${role('Decision Maker')})`,
        description: 'Signs the order',
      },
      { Prefer: 'return=representation' },
    );
    expect(created.status).toBe(201);
    const master = created.json as Row;
    expect(master).toMatchObject({ ismaster: true, record1objecttypecode: 3, record2objecttypecode: 2 });
    const reciprocal = sim().control.getRow('connection', master._relatedconnectionid_value as string);
    expect(reciprocal).toMatchObject({
      ismaster: false,
      _record1id_value: contact,
      _record2id_value: opportunity,
      _record1roleid_value: role('Decision Maker'),
      _record2roleid_value: null,
      description: 'Signs the order',
      _relatedconnectionid_value: master.connectionid,
    });
    const changes = await changesSince(api(), deltaLink);
    expect(changes.rows.map((r) => r.connectionid).sort()).toEqual(
      [master.connectionid, reciprocal?.connectionid].sort(),
    );
    await api().patch(`connections(${master.connectionid as string})`, { description: 'Changed mind' });
    expect(sim().control.getRow('connection', reciprocal?.connectionid as string)?.description).toBe(
      'Changed mind',
    );
    expect((await api().del(`connections(${reciprocal?.connectionid as string})`)).status).toBe(204);
    expect(sim().control.getRow('connection', master.connectionid as string)).toBeUndefined();
    const one = await api().post('connections', {
      'record1id_opportunity@odata.bind': `/opportunities(${opportunity})`,
    });
    expect([one.status, errorOf(one).code]).toEqual([400, '0x80040203']);
  });

  it('deleting an opportunity deletes its connections', async () => {
    const master = rowsWhere(sim(), 'connection', (c) => c.ismaster === true)[0] as Row;
    sim().control.deleteRow('opportunity', master._record1id_value as string);
    expect(sim().control.getRow('connection', master.connectionid as string)).toBeUndefined();
    expect(sim().control.getRow('connection', master._relatedconnectionid_value as string)).toBeUndefined();
  });
});

describe('dataverse simulator: team memberships', () => {
  const { sim, api } = useSimulatorWithApi({ records: 200, seed: 10 });

  it('are an intersect table with change tracking: joins and leaves arrive in the delta feed', async () => {
    const def = await api().get(
      "EntityDefinitions(LogicalName='teammembership')?$select=ChangeTrackingEnabled,IsIntersect",
    );
    expect(def.json).toMatchObject({ ChangeTrackingEnabled: true, IsIntersect: true });
    const load = await api().get('teammemberships?$select=systemuserid,teamid', TRACK);
    expect(load.json.value.length).toBe(sim().control.count('teammembership'));
    const team = sim().control.listRows('team')[0]?.teamid as string;
    const members = new Set(
      rowsWhere(sim(), 'teammembership', (m) => m.teamid === team).map((m) => m.systemuserid),
    );
    const user = sim()
      .control.listRows('systemuser')
      .find((u) => !members.has(u.systemuserid))?.systemuserid as string;
    const left = rowsWhere(sim(), 'teammembership', (m) => m.teamid === team)[0] as Row;
    const joined = sim().control.createRow('teammembership', { systemuserid: user, teamid: team });
    sim().control.deleteRow('teammembership', left.teammembershipid as string);
    const changes = await changesSince(api(), load.json['@odata.deltaLink']);
    expect(changes.rows).toEqual([
      expect.objectContaining({
        teammembershipid: joined.teammembershipid,
        systemuserid: user,
        teamid: team,
      }),
    ]);
    expect(changes.deleted).toEqual([left.teammembershipid]);
    // Intersect rows are not written through the API.
    expect((await api().post('teammemberships', { systemuserid: user, teamid: team })).status).toBe(400);
  });
});
