import type { DataverseSimulator } from '../../local/dataverse/simulator.server';
import { startWithApi, type ApiCaller } from './dataverse-simulator.helpers';

const ID = (n: number) => `11111111-2222-4333-8444-${String(n).padStart(12, '0')}`;

describe('dataverse simulator: writes and actions', () => {
  let sim: DataverseSimulator;
  let api: ApiCaller;

  beforeAll(async () => {
    ({ sim, api } = await startWithApi({
      records: 200,
      seed: 21,
      customTables: [
        {
          logicalName: 'new_subscription',
          entitySetName: 'new_subscriptions',
          columns: [
            {
              name: 'new_level',
              type: 'choice',
              options: [
                { value: 100000000, label: 'Gold' },
                { value: 100000001, label: 'Silver' },
              ],
            },
            { name: 'new_seats', type: 'int' },
            { name: 'new_active', type: 'bool' },
            { name: 'new_renewson', type: 'datetime' },
            { name: 'new_price', type: 'decimal' },
          ],
          link: { column: 'new_contactid', target: 'contact' },
          count: 25,
        },
      ],
    }));
  });
  afterAll(async () => {
    await sim.close();
  });

  const anAccount = () => sim.control.listRows('account', { limit: 1 })[0]?.accountid as string;

  it('POST answers 204 + OData-EntityId, or 201 + row with return=representation', async () => {
    const r = await api.post('contacts', { firstname: 'Grace', lastname: 'Hopper' });
    expect(r.status).toBe(204);
    const entity = r.headers.get('odata-entityid') as string;
    expect(entity).toMatch(
      new RegExp(`^${sim.apiUrl.replace(/[.$?]/g, '\\$&')}contacts\\([0-9a-f-]{36}\\)$`),
    );
    const id = /\(([^)]+)\)/.exec(entity)?.[1] as string;
    expect(sim.control.getRow('contact', id)).toMatchObject({
      fullname: 'Grace Hopper',
      statecode: 0,
      statuscode: 1,
    });

    const rep = await api.post(
      'contacts?$select=firstname',
      { contactid: ID(1), firstname: 'Chosen' },
      { Prefer: 'return=representation' },
    );
    expect(rep.status).toBe(201);
    expect(rep.headers.get('preference-applied')).toBe('return=representation');
    expect(rep.json).toMatchObject({
      contactid: ID(1),
      firstname: 'Chosen',
      '@odata.etag': expect.stringMatching(/^W\/"\d+"$/),
    });
    const dup = await api.post('contacts', { contactid: ID(1), firstname: 'Again' });
    expect(dup.status).toBe(412);
    expect(dup.json.error.message).toBe('A record with matching key values already exists.');
  });

  it('the version counter is organisation-wide and drives etag and versionnumber', async () => {
    const before = sim.control.version();
    await api.post('accounts', { name: 'V1' });
    await api.post('contacts', { lastname: 'V2' });
    expect(sim.control.version()).toBe(before + 2);
    const r = await api.get(`contacts(${ID(1)})?$select=versionnumber`);
    expect(r.json['@odata.etag']).toBe(`W/"${r.json.versionnumber}"`);
  });

  it('PATCH upserts; If-Match: * is update-only; If-None-Match: * is create-only', async () => {
    const created = await api.patch(`contacts(${ID(2)})`, { lastname: 'Upserted' });
    expect(created.status).toBe(204);
    expect(sim.control.getRow('contact', ID(2))?.lastname).toBe('Upserted');

    const missing = await api.patch(`contacts(${ID(3)})`, { lastname: 'Nope' }, { 'If-Match': '*' });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({
      error: { code: '0x80040217', message: `contact With Id = ${ID(3)} Does Not Exist` },
    });
    expect(sim.control.getRow('contact', ID(3))).toBeUndefined();

    const exists = await api.patch(`contacts(${ID(2)})`, { lastname: 'Again' }, { 'If-None-Match': '*' });
    expect(exists.status).toBe(412);
    expect(exists.json.error.message).toBe('A record with matching key values already exists.');

    const upd = await api.patch(
      `contacts(${ID(2)})`,
      { firstname: 'Now' },
      { 'If-Match': '*', Prefer: 'return=representation' },
    );
    expect(upd.status).toBe(200);
    expect(upd.json).toMatchObject({ firstname: 'Now', lastname: 'Upserted', fullname: 'Now Upserted' });
  });

  it('If-Match with an etag: 412 0x80060882 when the row changed since', async () => {
    const r = await api.get(`contacts(${ID(2)})?$select=firstname`);
    const etag = r.json['@odata.etag'] as string;
    expect((await api.patch(`contacts(${ID(2)})`, { firstname: 'First' }, { 'If-Match': etag })).status).toBe(
      204,
    );
    const stale = await api.patch(`contacts(${ID(2)})`, { firstname: 'Second' }, { 'If-Match': etag });
    expect(stale.status).toBe(412);
    expect(stale.json).toEqual({
      error: {
        code: '0x80060882',
        message: "The version of the existing record doesn't match the RowVersion property provided.",
      },
    });
    const del = await api.del(`contacts(${ID(2)})`, { 'If-Match': etag });
    expect(del.status).toBe(412);
    expect(sim.control.getRow('contact', ID(2))?.firstname).toBe('First');
  });

  it('DELETE answers 204 then 404', async () => {
    await api.post('contacts', { contactid: ID(4), lastname: 'Doomed' });
    expect((await api.del(`contacts(${ID(4)})`)).status).toBe(204);
    const again = await api.del(`contacts(${ID(4)})`);
    expect(again.status).toBe(404);
    expect(again.json.error.code).toBe('0x80040217');
  });

  it('binds lookups: account, customer per target, owner user or team; bad targets fail', async () => {
    const account = anAccount();
    const team = sim.control.listRows('team', { limit: 1 })[0]?.teamid as string;
    const user = sim.control.defaultUserId();
    await api.post('contacts', {
      contactid: ID(5),
      lastname: 'Bound',
      'parentcustomerid_account@odata.bind': `/accounts(${account})`,
      'ownerid@odata.bind': `/teams(${team})`,
    });
    const r = await api.get(`contacts(${ID(5)})?$select=_parentcustomerid_value,_ownerid_value`, {
      Prefer: 'odata.include-annotations="*"',
    });
    expect(r.json).toMatchObject({
      _parentcustomerid_value: account,
      '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'account',
      _ownerid_value: team,
      '_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'team',
    });
    await api.patch(`contacts(${ID(5)})`, {
      'ownerid@odata.bind': `${sim.apiUrl}systemusers(${user})`,
      'parentcustomerid_contact@odata.bind': `/contacts(${ID(1)})`,
    });
    expect(sim.control.getRow('contact', ID(5))).toMatchObject({
      _ownerid_value: user,
      '_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'systemuser',
      _parentcustomerid_value: ID(1),
      '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'contact',
    });
    const wrongTarget = await api.patch(`contacts(${ID(5)})`, {
      'parentcustomerid_account@odata.bind': `/contacts(${ID(1)})`,
    });
    expect(wrongTarget.status).toBe(400);
    const dangling = await api.patch(`contacts(${ID(5)})`, {
      'parentcustomerid_account@odata.bind': `/accounts(${ID(99)})`,
    });
    expect(dangling.status).toBe(404);
    expect(dangling.json.error.message).toBe(`account With Id = ${ID(99)} Does Not Exist`);
    const unknownNav = await api.patch(`contacts(${ID(5)})`, {
      'nosuchnav@odata.bind': `/accounts(${account})`,
    });
    expect(unknownNav.json.error.code).toBe('0x80060888');
    expect(unknownNav.json.error.message).toMatch(
      /^An undeclared property 'nosuchnav' which only has property annotations/,
    );
    const task = await api.post('tasks', {
      subject: 'Call',
      description: 'From the sync',
      scheduledend: '2025-05-01T09:00:00Z',
      'regardingobjectid_contact_task@odata.bind': `/contacts(${ID(5)})`,
    });
    expect(task.status).toBe(204);
  });

  it('validates types and columns with realistic errors', async () => {
    const badType = await api.post('accounts', { name: 'X', numberofemployees: 'lots' });
    expect(badType.status).toBe(400);
    expect(badType.json.error.code).toBe('0x80048d19');
    expect(badType.json.error.message).toContain(
      "Cannot convert the literal 'lots' to the expected type 'Edm.Int32'.",
    );
    const badChoice = await api.post('contacts', { lastname: 'X', preferredcontactmethodcode: 42 });
    expect(badChoice.status).toBe(400);
    expect(badChoice.json.error.message).toContain(
      "The value 42 of 'preferredcontactmethodcode' on record of type 'contact' is outside the valid range",
    );
    const unknown = await api.post('contacts', { lastname: 'X', new_deletedcolumn: 'y' });
    expect(unknown.json).toEqual({
      error: {
        code: '0x80060888',
        message:
          "Could not find a property named 'new_deletedcolumn' on type 'Microsoft.Dynamics.CRM.contact'.",
      },
    });
    const bool = await api.post('contacts', { lastname: 'X', donotemail: 'yes' });
    expect(bool.json.error.message).toContain("to the expected type 'Edm.Boolean'");
    const tooLong = await api.post('contacts', { lastname: 'x'.repeat(51) });
    expect(tooLong.status).toBe(400);
    const membership = await api.post('teammemberships', { systemuserid: ID(1) });
    expect(membership.status).toBe(400);
  });

  it('QualifyLead creates account, contact, opportunity; the lead becomes read-only', async () => {
    const lead = sim.control.createRow('lead', {
      firstname: 'Quinn',
      lastname: 'Qualified',
      companyname: 'Quinn Corp',
      emailaddress1: 'quinn@quinn.example',
      subject: 'Big deal',
    });
    const leadId = lead.leadid as string;
    const r = await api.post(`leads(${leadId})/Microsoft.Dynamics.CRM.QualifyLead`, {
      CreateAccount: true,
      CreateContact: true,
      CreateOpportunity: true,
      Status: 3,
    });
    expect(r.status).toBe(200);
    const refs = r.json.value as Record<string, string>[];
    expect(refs.map((v) => v['@odata.type'])).toEqual([
      '#Microsoft.Dynamics.CRM.account',
      '#Microsoft.Dynamics.CRM.contact',
      '#Microsoft.Dynamics.CRM.opportunity',
    ]);
    const [acc, con, opp] = refs as [Record<string, string>, Record<string, string>, Record<string, string>];
    expect(sim.control.getRow('contact', con.contactid as string)).toMatchObject({
      firstname: 'Quinn',
      emailaddress1: 'quinn@quinn.example',
      _originatingleadid_value: leadId,
      _parentcustomerid_value: acc.accountid,
    });
    expect(sim.control.getRow('account', acc.accountid as string)?.name).toBe('Quinn Corp');
    expect(sim.control.getRow('opportunity', opp.opportunityid as string)).toMatchObject({
      _customerid_value: acc.accountid,
      _originatingleadid_value: leadId,
    });
    expect(sim.control.getRow('lead', leadId)).toMatchObject({
      statecode: 1,
      statuscode: 3,
      _parentcontactid_value: con.contactid,
    });

    const edit = await api.patch(`leads(${leadId})`, { subject: 'changed' });
    expect(edit.status).toBe(400);
    expect(edit.json.error.message).toMatch(/read-only/);
    const again = await api.post(`leads(${leadId})/Microsoft.Dynamics.CRM.QualifyLead`, {
      CreateContact: true,
      Status: 3,
    });
    expect(again.status).toBe(400);
  });

  it('Merge deactivates the subordinate with merged=true and masterid, applies UpdateContent, re-parents', async () => {
    const [target, sub] = sim.control
      .listRows('account')
      .filter((a) => a.statecode === 0 && a.merged === false) as [
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    const child = sim.control.createRow('contact', {
      lastname: 'Child',
      'parentcustomerid_account@odata.bind': `/accounts(${sub.accountid as string})`,
    });
    const r = await api.post('Merge', {
      Target: { '@odata.type': 'Microsoft.Dynamics.CRM.account', accountid: target.accountid },
      Subordinate: { '@odata.type': 'Microsoft.Dynamics.CRM.account', accountid: sub.accountid },
      UpdateContent: {
        '@odata.type': 'Microsoft.Dynamics.CRM.account',
        websiteurl: 'https://merged.example',
      },
      PerformParentingChecks: false,
    });
    expect(r.status).toBe(204);
    expect(sim.control.getRow('account', sub.accountid as string)).toMatchObject({
      merged: true,
      _masterid_value: target.accountid,
      statecode: 1,
      statuscode: 2,
    });
    expect(sim.control.getRow('account', target.accountid as string)?.websiteurl).toBe(
      'https://merged.example',
    );
    expect(sim.control.getRow('contact', child.contactid as string)?._parentcustomerid_value).toBe(
      target.accountid,
    );
    const direct = await api.patch(`accounts(${target.accountid as string})`, { merged: true });
    expect(direct.status).toBe(204);
    expect(sim.control.getRow('account', target.accountid as string)?.merged).toBe(false);
  });

  it('custom tables: seeded, queryable, writable, tracked, with validation', async () => {
    expect(sim.control.count('new_subscription')).toBe(25);
    const r = await api.get('new_subscriptions?$select=new_name,new_level,_new_contactid_value', {
      Prefer: 'odata.include-annotations="*"',
    });
    expect(r.status).toBe(200);
    expect(r.json.value).toHaveLength(25);
    const row = r.json.value[0] as Record<string, unknown>;
    expect(['Gold', 'Silver']).toContain(row['new_level@OData.Community.Display.V1.FormattedValue']);
    expect(row['_new_contactid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBe('contact');
    expect(sim.control.getRow('contact', row._new_contactid_value as string)).toBeDefined();
    const created = await api.post('new_subscriptions', {
      new_name: 'Mine',
      new_level: 100000000,
      new_seats: 5,
      new_active: true,
      new_renewson: '2026-01-01T00:00:00Z',
      new_price: 9.99,
      'new_contactid@odata.bind': `/contacts(${ID(1)})`,
    });
    expect(created.status).toBe(204);
    const bad = await api.post('new_subscriptions', { new_seats: 1.5 });
    expect(bad.status).toBe(400);
    const track = await api.get('new_subscriptions?$select=new_name', { Prefer: 'odata.track-changes' });
    expect(track.json['@odata.deltaLink']).toBeDefined();
    const def = await api.get("EntityDefinitions(LogicalName='new_subscription')");
    expect(def.json).toMatchObject({ PrimaryIdAttribute: 'new_subscriptionid', ChangeTrackingEnabled: true });
  });

  it('control writes act as a Dynamics user; API writes as the application user', async () => {
    const viaControl = sim.control.createRow('contact', { lastname: 'Human' });
    expect(viaControl._modifiedby_value).toBe(sim.control.defaultUserId());
    await api.post('contacts', { contactid: ID(6), lastname: 'Robot' });
    expect(sim.control.getRow('contact', ID(6))?._modifiedby_value).toBe(sim.control.appUserId());
  });

  it('a missing privilege answers 403 0x80040220 naming it, for the API only; clearing restores access', async () => {
    const contact = sim.control.listRows('contact', { limit: 1 })[0];
    const id = String(contact?.contactid);
    sim.control.denyPrivilege('contact', 'write');
    sim.control.denyPrivilege('lead', 'create');
    const denied = await api.patch(`contacts(${id})`, { jobtitle: 'Nope' }, { 'If-Match': '*' });
    expect(denied.status).toBe(403);
    expect(denied.json).toEqual({
      error: {
        code: '0x80040220',
        message: expect.stringMatching(/is missing prvWriteContact privilege on entity 'contact'/),
      },
    });
    expect((await api.post('leads', { lastname: 'Denied' })).status).toBe(403);
    // Reading is still allowed, and an administrator (the control API) can still write.
    expect((await api.get(`contacts(${id})?$select=jobtitle`)).status).toBe(200);
    sim.control.updateRow('contact', id, { jobtitle: 'By admin' });
    expect(sim.control.getRow('contact', id)?.jobtitle).toBe('By admin');
    sim.control.clearPrivileges();
    expect((await api.patch(`contacts(${id})`, { jobtitle: 'Allowed' }, { 'If-Match': '*' })).status).toBe(
      204,
    );
  });
});
