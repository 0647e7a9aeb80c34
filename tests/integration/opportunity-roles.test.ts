import { useStarted } from './lifecycle.helpers';
import { startRelationsStack, type Doc, type SimRow } from './relations.fixture';

type Role = { rowId: string; table: string; role: string; source: string; accountId?: string };
type PersonRole = { opportunityId: string; name: string | null; role: string };

const LLN = '@Microsoft.Dynamics.CRM.lookuplogicalname';

describe('opportunity roles: contact customers and stakeholders, on the opportunity and on the person', () => {
  const stack = useStarted(() => startRelationsStack(31));

  /** The roles Dynamics implies for one opportunity row. */
  const expectedRoles = (opportunity: SimRow): { rowId: string; role: string }[] => {
    const rows = (t: string) => stack().rows(t);
    const roleNames = new Map(
      rows('connectionrole').map((r) => [String(r.connectionroleid), String(r.name)]),
    );
    const out: { rowId: string; role: string }[] = [];
    if (opportunity[`_customerid_value${LLN}`] === 'contact') {
      out.push({ rowId: String(opportunity._customerid_value), role: 'Customer' });
    }
    for (const c of rows('connection')) {
      if (c.ismaster !== true || c.statecode !== 0) continue;
      if (c._record1id_value !== opportunity.opportunityid) continue;
      const role = roleNames.get(String(c._record2roleid_value)) ?? 'Stakeholder';
      if (!out.some((r) => r.rowId === c._record2id_value && r.role === role))
        out.push({ rowId: String(c._record2id_value), role });
    }
    return out;
  };

  const personHolding = async (rowId: string): Promise<Doc | undefined> =>
    (await stack().all('people')).find((p) => {
      const d = p.dynamics as { leadId?: string; contactId?: string };
      return d.contactId === rowId || d.leadId === rowId;
    });

  it('gives each contact customer and each stakeholder its role, whichever arrives first', async () => {
    // Connections and opportunities before the people they name.
    await stack().pull('connectionrole', 'connection', 'account', 'opportunity', 'lead', 'contact');
    const opportunities = stack().rows('opportunity');
    let withRoles = 0;
    let stakeholders = 0;
    for (const row of opportunities) {
      const doc = await stack().doc('opportunities', String(row.opportunityid));
      const expected = expectedRoles(row);
      const roles = (doc.roles ?? []) as Role[];
      expect(roles.map((r) => ({ rowId: r.rowId, role: r.role })).sort(byRow)).toEqual(
        [...expected].sort(byRow),
      );
      if (expected.length > 0) withRoles += 1;
      stakeholders += roles.filter((r) => r.source === 'connection').length;
      for (const role of roles.filter((r) => r.source === 'customer')) {
        // The contact customer's account comes with it.
        const contact = stack().stack.dataverse.control.getRow('contact', role.rowId) as SimRow;
        if (contact[`_parentcustomerid_value${LLN}`] === 'account')
          expect(role.accountId).toBe(contact._parentcustomerid_value);
      }
      // Findable per person: the person's own field names the same roles.
      for (const role of expected) {
        const person = await personHolding(role.rowId);
        if (person === undefined) continue;
        expect(person.opportunityRoles).toContainEqual({
          opportunityId: row.opportunityid,
          name: row.name,
          role: role.role,
        });
      }
    }
    expect(withRoles).toBeGreaterThan(2);
    expect(stakeholders).toBeGreaterThan(0);
  });

  it('takes a role away when its connection is deleted or the customer changes, on the next pull', async () => {
    const connection = stack()
      .rows('connection')
      .find((c) => c.ismaster === true && c[`_record2id_value${LLN}`] === 'contact') as SimRow;
    const opportunityId = String(connection._record1id_value);
    const contactId = String(connection._record2id_value);
    expect(
      ((await stack().doc('opportunities', opportunityId)).roles as Role[]).map((r) => r.rowId),
    ).toContain(contactId);
    stack().stack.dataverse.control.deleteRow('connection', String(connection.connectionid));
    await stack().pull('connection');
    const roles = (await stack().doc('opportunities', opportunityId)).roles as Role[];
    const stillCustomer = roles.some((r) => r.rowId === contactId && r.source === 'customer');
    expect(roles.filter((r) => r.rowId === contactId && r.source === 'connection')).toEqual([]);
    const person = (await personHolding(contactId)) as Doc;
    const left = ((person.opportunityRoles ?? []) as PersonRole[]).filter(
      (r) => r.opportunityId === opportunityId,
    );
    expect(left.map((r) => r.role)).toEqual(stillCustomer ? ['Customer'] : []);

    // A contact customer replaced by an account: the contact's Customer role goes.
    const sold = stack()
      .rows('opportunity')
      .find((o) => o[`_customerid_value${LLN}`] === 'contact') as SimRow;
    const buyer = String(sold._customerid_value);
    const account = String((stack().rows('account')[0] as SimRow).accountid);
    stack().stack.dataverse.control.updateRow('opportunity', String(sold.opportunityid), {
      'customerid_account@odata.bind': `/accounts(${account})`,
    });
    await stack().pull('opportunity');
    const after = (await stack().doc('opportunities', String(sold.opportunityid))).roles as Role[];
    expect(after.filter((r) => r.source === 'customer')).toEqual([]);
    const former = (await personHolding(buyer)) as Doc;
    expect(
      ((former.opportunityRoles ?? []) as PersonRole[]).filter(
        (r) => r.opportunityId === sold.opportunityid && r.role === 'Customer',
      ),
    ).toEqual([]);
  });
});

const byRow = (a: { rowId: string; role: string }, b: { rowId: string; role: string }) =>
  a.rowId.localeCompare(b.rowId) || a.role.localeCompare(b.role);
