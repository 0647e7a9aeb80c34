// Drives the simulator with clients nobody here wrote: dynamics-web-api for the Web API and
// msal-node for the token. If they work unchanged, the simulator speaks the real dialect.
import { ConfidentialClientApplication } from '@azure/msal-node';
import { DynamicsWebApi } from 'dynamics-web-api';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  startDataverseSimulator,
  type DataverseSimulator,
} from '../../local/dataverse/simulator.server';

interface ContactRow {
  contactid: string;
  firstname?: string | null;
  lastname?: string | null;
  emailaddress1?: string | null;
  '@odata.etag'?: string;
}

describe('dataverse simulator driven by dynamics-web-api + msal-node', () => {
  let sim: DataverseSimulator;
  let api: DynamicsWebApi;
  let tokenCalls = 0;

  beforeAll(async () => {
    sim = await startDataverseSimulator({ records: 250, seed: 7 });
    const msal = new ConfidentialClientApplication({
      auth: {
        clientId: DEFAULT_CLIENT_ID,
        clientSecret: DEFAULT_CLIENT_SECRET,
        authority: `https://login.microsoftonline.com/${sim.tenantId}`,
        knownAuthorities: ['login.microsoftonline.com'],
        authorityMetadata: sim.authorityMetadata(),
      },
    });
    api = new DynamicsWebApi({
      serverUrl: sim.url,
      dataApi: { version: '9.2' },
      onTokenRefresh: async () => {
        tokenCalls++;
        const result = await msal.acquireTokenByClientCredential({ scopes: [sim.scope] });
        return result?.accessToken ?? null;
      },
    });
  });

  afterAll(async () => {
    await sim.close();
  });

  it('gets a token through msal-node and identifies the caller', async () => {
    const who = await api.callFunction<{ UserId: string }>({ functionName: 'WhoAmI' });
    expect(who.UserId).toBe(sim.control.appUserId());
    expect(tokenCalls).toBeGreaterThan(0);
  });

  it('WhoAmI names the organisation; the metadata and the privileges read through the client', async () => {
    const who = await api.callFunction<{ UserId: string; BusinessUnitId: string; OrganizationId: string }>(
      'WhoAmI',
    );
    expect(who.OrganizationId).toBe(sim.control.organizationId());
    expect(sim.control.getRow('systemuser', who.UserId)?._businessunitid_value).toBe(who.BusinessUnitId);
    const entity = await api.retrieveEntity({
      key: "LogicalName='contact'",
      select: ['LogicalName', 'ChangeTrackingEnabled', 'EntitySetName'],
    });
    expect(entity).toMatchObject({
      LogicalName: 'contact',
      ChangeTrackingEnabled: true,
      EntitySetName: 'contacts',
    });
    const attributes = await api.retrieveAttributes({
      entityKey: "LogicalName='contact'",
      select: ['LogicalName', 'AttributeType', 'AttributeTypeName'],
    });
    expect(attributes.value).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          LogicalName: 'parentcustomerid',
          AttributeType: 'Customer',
          AttributeTypeName: { Value: 'CustomerType' },
        }),
      ]),
    );
    const privileges = await api.callFunction<{ RolePrivileges: { PrivilegeName: string; Depth: string }[] }>(
      {
        name: 'Microsoft.Dynamics.CRM.RetrieveUserPrivileges',
        collection: 'systemusers',
        key: who.UserId,
      },
    );
    expect(privileges.RolePrivileges).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ PrivilegeName: 'prvWriteContact', Depth: 'Global' }),
      ]),
    );
  });

  it('adds a member to a marketing list with AddMemberList and reads it back through listmembers', async () => {
    const listId = await api.create<Record<string, unknown>, string>({
      collection: 'lists',
      data: { listname: 'Fidelity list', type: false, createdfromcode: 2 },
    });
    const contactId = sim.control.listRows('contact', { limit: 1 })[0]?.contactid as string;
    const added = await api.callAction<{ Id: string }>({
      actionName: 'Microsoft.Dynamics.CRM.AddMemberList',
      collection: 'lists',
      key: listId,
      action: { EntityId: contactId },
    });
    const members = await api.retrieveMultiple<{ listmemberid: string; _entityid_value: string }>({
      collection: 'listmembers',
      select: ['_entityid_value'],
      filter: `_listid_value eq ${listId}`,
    });
    expect(members.value).toEqual([
      expect.objectContaining({ listmemberid: added.Id, _entityid_value: contactId }),
    ]);
  });

  it('reads a multi-select choice as its values and their labels', async () => {
    const person = sim.control.listRows('contact', { limit: 500 }).find((c) => c.new_interests !== null);
    const row = await api.retrieve<Record<string, unknown>>({
      collection: 'contacts',
      key: person?.contactid as string,
      select: ['new_interests'],
      includeAnnotations: 'OData.Community.Display.V1.FormattedValue',
    });
    const labels = { 100000000: 'Email', 100000001: 'Events', 100000002: 'Webinars' } as Record<
      string,
      string
    >;
    expect(row.new_interests).toBe(person?.new_interests);
    expect(row['new_interests@OData.Community.Display.V1.FormattedValue']).toBe(
      String(person?.new_interests)
        .split(',')
        .map((v) => labels[v])
        .join('; '),
    );
  });

  it('creates and retrieves a contact with $select', async () => {
    const id = await api.create<Partial<ContactRow>, string>({
      collection: 'contacts',
      data: { firstname: 'Ada', lastname: 'Lovelace', emailaddress1: 'ada@example.com' },
    });
    expect(typeof id).toBe('string');
    const row = await api.retrieve<ContactRow>({
      collection: 'contacts',
      key: id as unknown as string,
      select: ['firstname', 'emailaddress1'],
    });
    expect(row.firstname).toBe('Ada');
    expect(row.emailaddress1).toBe('ada@example.com');
    expect(row.lastname).toBeUndefined();
    expect(row['@odata.etag']).toMatch(/^W\/"\d+"$/);
  });

  it('retrieveAll follows nextLinks across small pages', async () => {
    const all = await api.retrieveAll<ContactRow>({
      collection: 'contacts',
      select: ['fullname'],
      maxPageSize: 40,
    });
    expect(all.value.length).toBe(sim.control.count('contact'));
    expect(new Set(all.value.map((r) => r.contactid)).size).toBe(all.value.length);
    const requests = sim.control.requestLog().filter((e) => e.path.includes('$skiptoken'));
    expect(requests.length).toBeGreaterThanOrEqual(Math.floor(all.value.length / 40));
  });

  it('change tracking: initial load, then changed rows and tombstones through the deltaLink', async () => {
    const initial = await api.retrieveAll<ContactRow>({
      collection: 'contacts',
      select: ['firstname', 'lastname'],
      trackChanges: true,
      maxPageSize: 100,
    });
    expect(initial.value.length).toBe(sim.control.count('contact'));
    const deltaLink = initial.oDataDeltaLink;
    expect(deltaLink).toMatch(/\$select=firstname,lastname&\$deltatoken=/);

    const [a, b] = initial.value;
    await api.update({ collection: 'contacts', key: a?.contactid as string, data: { firstname: 'Changed' } });
    await api.deleteRecord({ collection: 'contacts', key: b?.contactid as string });
    const created = await api.create<Partial<ContactRow>, string>({
      collection: 'contacts',
      data: { lastname: 'New' },
    });

    const delta = await api.retrieveMultiple<Record<string, unknown>>(
      { collection: 'contacts', trackChanges: true },
      deltaLink as string,
    );
    const changed = delta.value.filter((r) => !('reason' in r));
    const tombstones = delta.value.filter((r) => r.reason === 'deleted');
    expect(changed.map((r) => r.contactid).sort()).toEqual([a?.contactid, created].sort());
    expect(changed.find((r) => r.contactid === a?.contactid)?.firstname).toBe('Changed');
    // dynamics-web-api adds an oDataContext copy of @odata.context; the wire shape is checked elsewhere.
    expect(tombstones).toHaveLength(1);
    expect(tombstones).toMatchObject([
      {
        '@odata.context': `${sim.apiUrl}$metadata#contacts/$deletedEntity`,
        id: b?.contactid,
        reason: 'deleted',
      },
    ]);
    expect(delta.oDataDeltaLink).toMatch(/\$deltatoken=/);
    expect(delta.oDataDeltaLink).not.toBe(deltaLink);
  });

  it('executes a batch with a changeset and Content-ID reference', async () => {
    api.startBatch();
    api.create({ collection: 'accounts', data: { name: 'Batch Account' }, contentId: '1' });
    api.create({
      collection: 'contacts',
      data: { lastname: 'Batch', 'parentcustomerid_account@odata.bind': '$1' },
    });
    api.retrieveMultiple({ collection: 'accounts', select: ['name'], filter: "name eq 'Batch Account'" });
    const responses = await api.executeBatch();
    expect(responses).toHaveLength(3);
    const [accountId, contactId, query] = responses as [string, string, { value: { accountid: string }[] }];
    expect(query.value.map((r) => r.accountid)).toEqual([accountId]);
    expect(sim.control.getRow('contact', contactId)?._parentcustomerid_value).toBe(accountId);
  });

  it('a failing request inside a changeset rolls back the others', async () => {
    const before = sim.control.count('account');
    const version = sim.control.version();
    api.startBatch();
    api.create({ collection: 'accounts', data: { name: 'Rolled back 1' } });
    api.create({ collection: 'accounts', data: { name: 'Rolled back 2' } });
    api.create({ collection: 'accounts', data: { numberofemployees: 'many' } });
    let failure: unknown;
    try {
      await api.executeBatch();
    } catch (err) {
      failure = err;
    }
    expect(Array.isArray(failure)).toBe(true);
    const errs = failure as { status?: number; message?: string }[];
    expect(errs[0]?.status).toBe(400);
    expect(sim.control.count('account')).toBe(before);
    expect(sim.control.version()).toBe(version);
    const names = sim.control.listRows('account').map((r) => r.name);
    expect(names).not.toContain('Rolled back 1');
  });
});
