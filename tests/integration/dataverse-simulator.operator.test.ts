// The operator features through the real HTTP API: WhoAmI and the organisation id, table and column
// metadata (with change tracking switched off and a column deleted), the application user's
// privileges, tasks, and assignment to users and teams.
import type { DataverseSimulator } from '../../local/dataverse/simulator.server';
import { useSimulatorWithApi, type Answer } from './dataverse-simulator.helpers';

const TRACK = { Prefer: 'odata.track-changes,odata.maxpagesize=500' };
const ANNOTATED = { Prefer: 'odata.include-annotations="*"' };
const MISSING = '00000000-0000-4000-8000-00000000dead';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const control = (url: string, method: string, path: string, body?: unknown) =>
  fetch(`${url}/_sim/${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

const errorOf = (a: Answer): { code: string; message: string } => a.json.error;

/** What Dataverse answers to a binding through a navigation property the table does not have. */
const expectUndeclared = (a: Answer, navigation: string): void => {
  expect(a.status).toBe(400);
  expect(errorOf(a).message).toMatch(new RegExp(`^An undeclared property '${navigation}' `));
};

/** The key of a table's first row in key order. */
const firstId = (sim: DataverseSimulator, table: string, key: string): string =>
  sim.control.listRows(table, { limit: 1 })[0]?.[key] as string;

describe('dataverse simulator: WhoAmI and the organisation', () => {
  const ORG = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
  const { sim, api } = useSimulatorWithApi({ records: 100, seed: 5, organizationId: ORG });

  it('names the calling application user, its business unit and the organisation', async () => {
    const who = await api().get('WhoAmI');
    expect(who.status).toBe(200);
    expect(who.json).toEqual({
      '@odata.context': `${sim().apiUrl}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
      BusinessUnitId: expect.stringMatching(GUID),
      UserId: sim().control.appUserId(),
      OrganizationId: ORG,
    });
    const user = sim().control.getRow('systemuser', who.json.UserId);
    expect(user?._businessunitid_value).toBe(who.json.BusinessUnitId);
    expect((await api().get('WhoAmI()')).json.UserId).toBe(who.json.UserId);
    expect((await api().post('WhoAmI', {})).status).toBe(405);
  });

  it('a sandbox refresh gives the organisation a new id, through the control API or HTTP', async () => {
    const refreshed = '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d';
    sim().control.setOrganizationId(refreshed.toUpperCase());
    expect(sim().control.organizationId()).toBe(refreshed);
    expect((await api().get('WhoAmI')).json.OrganizationId).toBe(refreshed);
    const again = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
    const r = await control(sim().url, 'POST', 'organization', { organizationId: again });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ organizationId: again });
    expect((await api().get('WhoAmI')).json.OrganizationId).toBe(again);
    expect(await (await control(sim().url, 'GET', 'organization')).json()).toEqual({ organizationId: again });
    expect((await control(sim().url, 'POST', 'organization', { organizationId: 'nope' })).status).toBe(400);
  });
});

describe('dataverse simulator: table and column metadata', () => {
  const { sim, api } = useSimulatorWithApi({ records: 100, seed: 5 });

  it('describes a table with the selected properties and its key', async () => {
    const r = await api().get(
      "EntityDefinitions(LogicalName='contact')?$select=LogicalName,ChangeTrackingEnabled,EntitySetName",
    );
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      '@odata.context': `${sim().apiUrl}$metadata#EntityDefinitions(LogicalName,ChangeTrackingEnabled,EntitySetName)/$entity`,
      LogicalName: 'contact',
      ChangeTrackingEnabled: true,
      EntitySetName: 'contacts',
      MetadataId: expect.stringMatching(GUID),
    });
    const byId = await api().get(`EntityDefinitions(${r.json.MetadataId})?$select=LogicalName`);
    expect(byId.json.LogicalName).toBe('contact');
    const task = await api().get("EntityDefinitions(LogicalName='task')");
    expect(task.json).toMatchObject({
      SchemaName: 'Task',
      PrimaryIdAttribute: 'activityid',
      ObjectTypeCode: 4212,
      IsIntersect: false,
    });
    const all = await api().get('EntityDefinitions?$select=LogicalName,IsIntersect');
    expect(all.json.value).toEqual(
      expect.arrayContaining([
        { LogicalName: 'teammembership', IsIntersect: true, MetadataId: expect.stringMatching(GUID) },
      ]),
    );
  });

  it('describes columns with AttributeType and AttributeTypeName', async () => {
    const r = await api().get(
      "EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName,AttributeType,AttributeTypeName",
    );
    expect(r.status).toBe(200);
    expect(r.json['@odata.context']).toMatch(
      /\$metadata#EntityDefinitions\([0-9a-f-]{36}\)\/Attributes\(LogicalName,AttributeType,AttributeTypeName\)$/,
    );
    const byName = new Map<string, Record<string, unknown>>(
      r.json.value.map((a: Record<string, unknown>) => [a.LogicalName, a]),
    );
    const expected: [string, string, string][] = [
      ['contactid', 'Uniqueidentifier', 'UniqueidentifierType'],
      ['firstname', 'String', 'StringType'],
      ['donotemail', 'Boolean', 'BooleanType'],
      ['preferredcontactmethodcode', 'Picklist', 'PicklistType'],
      ['parentcustomerid', 'Customer', 'CustomerType'],
      ['originatingleadid', 'Lookup', 'LookupType'],
      ['ownerid', 'Owner', 'OwnerType'],
      ['createdon', 'DateTime', 'DateTimeType'],
      ['statecode', 'State', 'StateType'],
      ['statuscode', 'Status', 'StatusType'],
      ['versionnumber', 'BigInt', 'BigIntType'],
    ];
    for (const [name, type, typeName] of expected) {
      expect([name, byName.get(name)?.AttributeType, byName.get(name)?.AttributeTypeName]).toEqual([
        name,
        type,
        { Value: typeName },
      ]);
    }
    expect(byName.get('ownerid')?.['@odata.type']).toBe('#Microsoft.Dynamics.CRM.LookupAttributeMetadata');
    const account = await api().get(
      "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='numberofemployees')?$select=AttributeType",
    );
    expect(account.json).toMatchObject({
      '@odata.type': '#Microsoft.Dynamics.CRM.IntegerAttributeMetadata',
      AttributeType: 'Integer',
    });
    const regarding = await api().get(
      "EntityDefinitions(LogicalName='task')/Attributes(LogicalName='regardingobjectid')",
    );
    expect(regarding.json).toMatchObject({ AttributeType: 'Lookup', IsValidForUpdate: true });
    expect(regarding.json.Targets).toEqual(expect.arrayContaining(['contact', 'lead']));
  });

  it('casts the columns to one metadata type and expands its option set', async () => {
    const r = await api().get(
      "EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet",
    );
    expect(r.status).toBe(200);
    const method = r.json.value.find(
      (a: { LogicalName: string }) => a.LogicalName === 'preferredcontactmethodcode',
    );
    expect(method.OptionSet.Options[1]).toEqual({
      Value: 2,
      Label: {
        LocalizedLabels: [{ Label: 'Email', LanguageCode: 1033 }],
        UserLocalizedLabel: { Label: 'Email', LanguageCode: 1033 },
      },
    });
    expect(
      r.json.value.every(
        (a: Record<string, unknown>) =>
          a['@odata.type'] === '#Microsoft.Dynamics.CRM.PicklistAttributeMetadata',
      ),
    ).toBe(true);
    const uncast = await api().get("EntityDefinitions(LogicalName='contact')/Attributes?$expand=OptionSet");
    expect(uncast.status).toBe(400);
  });

  it('answers unknown properties, tables and columns as Dataverse does', async () => {
    const prop = await api().get("EntityDefinitions(LogicalName='contact')?$select=LogicalName,Nope");
    expect(prop.status).toBe(400);
    expect(errorOf(prop)).toEqual({
      code: '0x80060888',
      message: "Could not find a property named 'Nope' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.",
    });
    const table = await api().get("EntityDefinitions(LogicalName='nosuchtable')");
    expect(table.status).toBe(404);
    expect(errorOf(table).code).toBe('0x80041102');
    const column = await api().get("EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='nope')");
    expect(column.status).toBe(404);
  });

  it('change tracking switched off: the metadata says so and tracked reads fail with 0x80072491', async () => {
    const off = await control(sim().url, 'POST', 'tables/contacts/change-tracking', { enabled: false });
    expect(off.status).toBe(200);
    const def = await api().get("EntityDefinitions(LogicalName='contact')?$select=ChangeTrackingEnabled");
    expect(def.json.ChangeTrackingEnabled).toBe(false);
    const tracked = await api().get('contacts?$select=firstname', TRACK);
    expect(tracked.status).toBe(400);
    expect(errorOf(tracked)).toEqual({
      code: '0x80072491',
      message: "Entity contact isn't enabled for change tracking.",
    });
    sim().control.setChangeTracking('contact', true);
    expect((await api().get('contacts?$select=firstname', TRACK)).status).toBe(200);
  });
});

describe('dataverse simulator: a deleted column', () => {
  const { sim, api } = useSimulatorWithApi({ records: 100, seed: 6 });

  it('is gone from the metadata, from rows, from $select, $filter, writes and saved delta links', async () => {
    const load = await api().get('contacts?$select=firstname,jobtitle', TRACK);
    const deltaLink = load.json['@odata.deltaLink'] as string;
    expect(deltaLink).toBeDefined();
    const r = await control(sim().url, 'DELETE', 'tables/contact/columns/jobtitle');
    expect(r.status).toBe(200);
    const attributes = await api().get(
      "EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName",
    );
    expect(attributes.json.value.map((a: { LogicalName: string }) => a.LogicalName)).not.toContain(
      'jobtitle',
    );
    const notFound = {
      code: '0x80060888',
      message: "Could not find a property named 'jobtitle' on type 'Microsoft.Dynamics.CRM.contact'.",
    };
    for (const answer of [
      await api().get('contacts?$select=firstname,jobtitle'),
      await api().get(`contacts?$filter=${encodeURIComponent("jobtitle eq 'CEO'")}`),
      await api().get(deltaLink, TRACK),
      await api().post('contacts', { lastname: 'X', jobtitle: 'CEO' }),
    ]) {
      expect([answer.status, errorOf(answer)]).toEqual([400, notFound]);
    }
    const row = await api().get('contacts?$top=1');
    expect(row.json.value[0]).not.toHaveProperty('jobtitle');
    expect(row.json.value[0]).toHaveProperty('firstname');
  });

  it('a deleted lookup takes its navigation properties with it; platform columns cannot be deleted', async () => {
    sim().control.deleteColumn('contact', 'parentcustomerid');
    const account = firstId(sim(), 'account', 'accountid');
    const bind = await api().post('contacts', {
      lastname: 'X',
      'parentcustomerid_account@odata.bind': `/accounts(${account})`,
    });
    expectUndeclared(bind, 'parentcustomerid_account');
    expect((await api().get('contacts?$select=_parentcustomerid_value')).status).toBe(400);
    for (const column of ['contactid', 'statecode', 'ownerid', 'modifiedon', 'versionnumber']) {
      const refused = await control(sim().url, 'DELETE', `tables/contact/columns/${column}`);
      expect([column, refused.status]).toEqual([column, 400]);
    }
    expect((await control(sim().url, 'DELETE', 'tables/contact/columns/nosuchcolumn')).status).toBe(400);
  });
});

describe('dataverse simulator: privileges of the application user', () => {
  const { sim, api } = useSimulatorWithApi({ records: 100, seed: 5 });
  afterEach(() => sim().control.clearPrivileges());

  interface RolePrivilege {
    Depth: string;
    PrivilegeId: string;
    BusinessUnitId: string;
    PrivilegeName: string;
  }
  const privileges = async (userId = sim().control.appUserId()): Promise<RolePrivilege[]> => {
    const r = await api().get(`systemusers(${userId})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`);
    expect(r.status).toBe(200);
    expect(r.json['@odata.context']).toBe(
      `${sim().apiUrl}$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse`,
    );
    return r.json.RolePrivileges;
  };

  it('lists every privilege on every table, Global, in the business unit', async () => {
    const list = await privileges();
    const who = (await api().get('WhoAmI')).json;
    const read = list.find((p) => p.PrivilegeName === 'prvReadContact');
    expect(read).toEqual({
      Depth: 'Global',
      PrivilegeId: expect.stringMatching(GUID),
      BusinessUnitId: who.BusinessUnitId,
      PrivilegeName: 'prvReadContact',
    });
    const names = list.map((p) => p.PrivilegeName);
    const verbs = ['Create', 'Read', 'Write', 'Delete', 'Append', 'AppendTo', 'Assign', 'Share'];
    for (const entity of ['Contact', 'Lead', 'Account', 'Opportunity', 'Activity'])
      for (const verb of verbs) expect(names).toContain(`prv${verb}${entity}`);
    // Users and teams have no owner to assign; activities share one set; intersect tables have none.
    expect(names).toEqual(expect.arrayContaining(['prvReadUser', 'prvWriteUser', 'prvReadTeam']));
    expect(names).not.toContain('prvAssignUser');
    expect(names).not.toContain('prvReadTask');
    expect(names.some((n) => n.includes('TeamMembership'))).toBe(false);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(list.map((p) => p.PrivilegeId)).size).toBe(names.length);
  });

  it('leaves out what was denied, and the denied operation answers 403 0x80040220', async () => {
    const before = (await privileges()).length;
    const denied = await control(sim().url, 'POST', 'privileges/deny', {
      table: 'contact',
      privilege: 'read',
    });
    expect(denied.status).toBe(200);
    sim().control.denyPrivilege('task', 'write');
    const names = (await privileges()).map((p) => p.PrivilegeName);
    expect(names).not.toContain('prvReadContact');
    expect(names).not.toContain('prvWriteActivity');
    expect(names).toContain('prvWriteContact');
    expect(names).toHaveLength(before - 2);
    const read = await api().get('contacts?$select=firstname');
    expect(read.status).toBe(403);
    expect(errorOf(read)).toEqual({
      code: '0x80040220',
      message: expect.stringMatching(/is missing prvReadContact privilege on entity 'contact'\.$/),
    });
    // Another user keeps the whole role: the denial is the application users'.
    const human = await privileges(sim().control.defaultUserId());
    expect(human).toHaveLength(before);
    await control(sim().url, 'DELETE', 'privileges');
    expect(await privileges()).toHaveLength(before);
  });

  it('binding a lookup takes Append and AppendTo; an unknown user is not found', async () => {
    const account = firstId(sim(), 'account', 'accountid');
    const body = { lastname: 'Bound', 'parentcustomerid_account@odata.bind': `/accounts(${account})` };
    sim().control.denyPrivilege('account', 'appendto');
    const appendTo = await api().post('contacts', body);
    expect(appendTo.status).toBe(403);
    expect(errorOf(appendTo).message).toContain('is missing prvAppendToAccount privilege');
    sim().control.clearPrivileges();
    sim().control.denyPrivilege('contact', 'append');
    expect(errorOf(await api().post('contacts', body)).message).toContain('prvAppendContact');
    expect((await api().post('contacts', { lastname: 'Unbound' })).status).toBe(204);
    const unknown = await api().get(
      `systemusers(${MISSING})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`,
    );
    expect([unknown.status, errorOf(unknown).code]).toEqual([404, '0x80040217']);
    const posted = await api().post(
      `systemusers(${sim().control.appUserId()})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges`,
      {},
    );
    expect(posted.status).toBe(405);
    const elsewhere = await api().get(`contacts(${MISSING})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`);
    expect(elsewhere.status).toBe(404);
  });
});

describe('dataverse simulator: tasks', () => {
  const { sim, api } = useSimulatorWithApi({ records: 100, seed: 5 });

  it('creates a task regarding a lead, owned by a team, and reads it back as Dataverse serves it', async () => {
    const lead = firstId(sim(), 'lead', 'leadid');
    const team = firstId(sim(), 'team', 'teamid');
    const created = await api().post(
      'tasks',
      {
        subject: 'Call back',
        description: 'Asked for pricing',
        scheduledend: '2025-06-01T09:30:00Z',
        prioritycode: 2,
        'regardingobjectid_lead_task@odata.bind': `/leads(${lead})`,
        'ownerid@odata.bind': `/teams(${team})`,
      },
      { Prefer: 'return=representation,odata.include-annotations="*"' },
    );
    expect(created.status).toBe(201);
    const id = created.json.activityid as string;
    expect(created.headers.get('odata-entityid')).toBe(`${sim().apiUrl}tasks(${id})`);
    const r = await api().get(
      `tasks(${id})?$select=subject,description,scheduledend,prioritycode,_regardingobjectid_value,_ownerid_value,statecode,statuscode`,
      ANNOTATED,
    );
    expect(r.json).toMatchObject({
      activityid: id,
      subject: 'Call back',
      description: 'Asked for pricing',
      scheduledend: '2025-06-01T09:30:00Z',
      prioritycode: 2,
      'prioritycode@OData.Community.Display.V1.FormattedValue': 'High',
      _regardingobjectid_value: lead,
      '_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'lead',
      '_regardingobjectid_value@Microsoft.Dynamics.CRM.associatednavigationproperty':
        'regardingobjectid_lead_task',
      _ownerid_value: team,
      '_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'team',
      statecode: 0,
      'statecode@OData.Community.Display.V1.FormattedValue': 'Open',
      statuscode: 2,
      'statuscode@OData.Community.Display.V1.FormattedValue': 'Not Started',
    });
  });

  it('defaults to Normal priority and the caller as owner; regarding a contact', async () => {
    const contact = firstId(sim(), 'contact', 'contactid');
    const created = await api().post('tasks', {
      subject: 'Send proposal',
      'regardingobjectid_contact_task@odata.bind': `/contacts(${contact})`,
    });
    expect(created.status).toBe(204);
    const id = /\(([^)]+)\)$/.exec(created.headers.get('odata-entityid') ?? '')?.[1] as string;
    expect(sim().control.getRow('task', id)).toMatchObject({
      prioritycode: 1,
      _regardingobjectid_value: contact,
      '_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'contact',
      _ownerid_value: sim().control.appUserId(),
    });
  });

  it('refuses a missing regarding row, navigation names task does not have, and unknown priorities', async () => {
    const missing = await api().post('tasks', {
      subject: 'Ghost',
      'regardingobjectid_contact_task@odata.bind': `/contacts(${MISSING})`,
    });
    expect(missing.status).toBe(404);
    expect(errorOf(missing)).toEqual({
      code: '0x80040217',
      message: `contact With Id = ${MISSING} Does Not Exist`,
    });
    const lead = firstId(sim(), 'lead', 'leadid');
    const short = await api().post('tasks', {
      subject: 'X',
      'regardingobjectid_lead@odata.bind': `/leads(${lead})`,
    });
    expectUndeclared(short, 'regardingobjectid_lead');
    const wrongTable = await api().post('tasks', {
      subject: 'X',
      'regardingobjectid_contact_task@odata.bind': `/leads(${lead})`,
    });
    expect(wrongTable.status).toBe(400);
    const priority = await api().post('tasks', { subject: 'X', prioritycode: 5 });
    expect(priority.status).toBe(400);
    expect(errorOf(priority).code).toBe('0x8004431a');
  });
});

describe('dataverse simulator: assignment', () => {
  const { sim, api } = useSimulatorWithApi({ records: 400, seed: 5 });
  afterEach(() => sim().control.clearPrivileges());

  const users = () => sim().control.listRows('systemuser');
  const enabledUser = () =>
    users().find((u) => u.isdisabled === false && u.applicationid === null)?.systemuserid as string;
  const disabledUser = () => users().find((u) => u.isdisabled === true)?.systemuserid as string;

  it('seeds a few disabled users', () => {
    const disabled = users().filter((u) => u.isdisabled === true);
    expect(disabled.length).toBeGreaterThan(0);
    expect(disabled.length).toBeLessThan(users().length / 4);
  });

  it('assigns a contact to a team and a lead to a user; the change arrives in the delta feed', async () => {
    const contactsLoad = await api().get('contacts?$select=_ownerid_value', TRACK);
    const contact = contactsLoad.json.value[0] as { contactid: string; '@odata.etag': string };
    const leadsLoad = await api().get('leads?$select=_ownerid_value,statecode', TRACK);
    // A qualified lead is read-only, but it can still be assigned.
    const lead = leadsLoad.json.value.find((l: { statecode: number }) => l.statecode === 1) as {
      leadid: string;
    };
    const team = firstId(sim(), 'team', 'teamid');
    const user = enabledUser();
    const toTeam = await api().patch(
      `contacts(${contact.contactid})`,
      { 'ownerid@odata.bind': `/teams(${team})` },
      { 'If-Match': contact['@odata.etag'] },
    );
    expect(toTeam.status).toBe(204);
    expect(
      (await api().patch(`leads(${lead.leadid})`, { 'ownerid@odata.bind': `/systemusers(${user})` })).status,
    ).toBe(204);
    const edit = await api().patch(`leads(${lead.leadid})`, { jobtitle: 'Edited' });
    expect(errorOf(edit).code).toBe('0x80043b1d');

    const contactDelta = await api().get(contactsLoad.json['@odata.deltaLink'], {
      Prefer: 'odata.track-changes,odata.include-annotations="*"',
    });
    expect(contactDelta.json.value).toEqual([
      expect.objectContaining({
        contactid: contact.contactid,
        _ownerid_value: team,
        '_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'team',
      }),
    ]);
    const newEtag = contactDelta.json.value[0]['@odata.etag'] as string;
    expect(Number(/\d+/.exec(newEtag)?.[0])).toBeGreaterThan(Number(/\d+/.exec(contact['@odata.etag'])?.[0]));
    const leadDelta = await api().get(leadsLoad.json['@odata.deltaLink'], TRACK);
    expect(leadDelta.json.value).toEqual([
      expect.objectContaining({ leadid: lead.leadid, _ownerid_value: user }),
    ]);
  });

  it('an unknown owner is not found; a disabled user cannot be given anything', async () => {
    const account = firstId(sim(), 'account', 'accountid');
    const before = sim().control.getRow('account', account);
    const unknownUser = await api().patch(`accounts(${account})`, {
      'ownerid@odata.bind': `/systemusers(${MISSING})`,
    });
    expect([unknownUser.status, errorOf(unknownUser)]).toEqual([
      404,
      { code: '0x80040217', message: `systemuser With Id = ${MISSING} Does Not Exist` },
    ]);
    const unknownTeam = await api().patch(`accounts(${account})`, {
      'ownerid@odata.bind': `/teams(${MISSING})`,
    });
    expect(errorOf(unknownTeam).message).toBe(`team With Id = ${MISSING} Does Not Exist`);
    const disabled = disabledUser();
    const toDisabled = await api().patch(`accounts(${account})`, {
      'ownerid@odata.bind': `/systemusers(${disabled})`,
    });
    expect([toDisabled.status, errorOf(toDisabled)]).toEqual([
      400,
      {
        code: '0x80040225',
        message: `The specified user (Id = ${disabled}) is disabled. Consider enabling this user.`,
      },
    ]);
    const created = await api().post('contacts', {
      lastname: 'Orphan',
      'ownerid@odata.bind': `/systemusers(${disabled})`,
    });
    expect(created.status).toBe(400);
    expect(sim().control.getRow('account', account)).toEqual(before);
  });

  it('assigning takes the Assign privilege; other updates do not', async () => {
    const contact = firstId(sim(), 'contact', 'contactid');
    sim().control.denyPrivilege('contact', 'assign');
    const denied = await api().patch(`contacts(${contact})`, {
      'ownerid@odata.bind': `/systemusers(${enabledUser()})`,
    });
    expect(denied.status).toBe(403);
    expect(errorOf(denied)).toEqual({
      code: '0x80040220',
      message: expect.stringContaining('is missing prvAssignContact privilege'),
    });
    expect((await api().patch(`contacts(${contact})`, { jobtitle: 'Still writable' })).status).toBe(204);
  });
});
