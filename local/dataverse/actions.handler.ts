import { randomUUID } from 'node:crypto';
import type { TableState } from './data.store';
import { entityParameter, parseBody, parseJsonBody } from './body.parser';
import { PrivilegeRules } from './privilege.rules';
import { guidFromText } from './seed.random';
import { errors } from './simulator.errors';
import { writeRow } from './write.handler';
import type { ApiRequest, ApiResponse, WebApiContext } from './web-api.protocol';
import { json, noContent } from './web-api.protocol';

// The Dataverse functions and actions of people and users: WhoAmI, RetrieveUserPrivileges,
// QualifyLead and Merge. QualifyLead and Merge are also what the control API runs "as a Dynamics
// user", so their effects live apart from the HTTP parameters.

export interface QualifyOptions {
  createAccount: boolean;
  createContact: boolean;
  createOpportunity: boolean;
  status?: number;
}

/** A record an action created, as QualifyLead lists it. */
export interface CreatedRecord {
  table: string;
  id: string;
}

export const whoAmI = (ctx: WebApiContext, req: ApiRequest): ApiResponse =>
  json(200, {
    '@odata.context': `${ctx.apiUrl}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
    BusinessUnitId: ctx.businessUnitId,
    UserId: req.userId,
    OrganizationId: ctx.organizationId,
  });

/**
 * The privileges a user holds through their security roles, as one list. The simulated role is the
 * application users' (every privilege minus those denied through the control API); other users
 * hold every privilege. Depth is Global throughout: the role reaches the whole organisation.
 */
export const retrieveUserPrivileges = (ctx: WebApiContext, req: ApiRequest, userId: string): ApiResponse => {
  const users = ctx.store.table('systemuser') as TableState;
  ctx.privileges.assert(users.def, 'read', req.userId);
  const user = users.rows.get(userId);
  if (!user) throw errors.notFound('systemuser', userId);
  const defs = ctx.store.allTables().map((t) => t.def);
  const names = user.values.applicationid ? ctx.privileges.granted(defs) : PrivilegeRules.all(defs);
  const businessUnitId = String(user.values._businessunitid_value ?? ctx.businessUnitId);
  return json(200, {
    '@odata.context': `${ctx.apiUrl}$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse`,
    RolePrivileges: names.map((name) => ({
      Depth: 'Global',
      PrivilegeId: guidFromText(`privilege:${name}`),
      BusinessUnitId: businessUnitId,
      PrivilegeName: name,
    })),
  });
};

/**
 * QualifyLead as the platform does it, in one transaction: the requested account, contact and
 * opportunity are created from the lead's values, linked to each other and to the lead, and the
 * lead is closed as qualified.
 */
export const qualify = (
  ctx: WebApiContext,
  leadId: string,
  opts: QualifyOptions,
  userId: string,
): CreatedRecord[] => {
  const store = ctx.store;
  const leads = store.table('lead') as TableState;
  const lead = leads.rows.get(leadId);
  if (!lead) throw errors.notFound('lead', leadId);
  if (lead.values.statecode !== 0) throw errors.leadClosed();
  const status = opts.status ?? 3;
  if (status !== 3) throw errors.outOfRange('statuscode', 'lead', status, [3]);
  return store.atomically(() => {
    store.announce('QualifyLead', 'lead', leadId, userId);
    const created: CreatedRecord[] = [];
    const v = lead.values;
    const owner = { _ownerid_value: v._ownerid_value };
    const ownerTarget = { _ownerid_value: lead.targets._ownerid_value };
    // What the lead turns into keeps its owner, and is listed in the action's answer.
    const createFromLead = (
      table: string,
      changes: Record<string, unknown>,
      targets: Record<string, string | undefined>,
    ): string => {
      const id = randomUUID();
      writeRow(
        store,
        store.table(table) as TableState,
        id,
        {
          changes: { ...changes, ...owner },
          targets: { ...targets, ...ownerTarget },
        },
        userId,
      );
      created.push({ table, id });
      return id;
    };
    let accountId: string | undefined;
    let contactId: string | undefined;
    if (opts.createAccount) {
      accountId = createFromLead(
        'account',
        {
          name: v.companyname ?? v.fullname,
          telephone1: v.telephone1 ?? null,
          industrycode: v.industrycode ?? null,
          new_synctomkto: v.new_synctomkto ?? null,
        },
        {},
      );
    }
    if (opts.createContact) {
      contactId = createFromLead(
        'contact',
        {
          firstname: v.firstname ?? null,
          lastname: v.lastname ?? null,
          emailaddress1: v.emailaddress1 ?? null,
          jobtitle: v.jobtitle ?? null,
          telephone1: v.telephone1 ?? null,
          new_synctomkto: v.new_synctomkto ?? null,
          _originatingleadid_value: leadId,
          ...(accountId ? { _parentcustomerid_value: accountId } : {}),
        },
        {
          _originatingleadid_value: 'lead',
          ...(accountId ? { _parentcustomerid_value: 'account' } : {}),
        },
      );
    }
    if (opts.createOpportunity) {
      const customerId = accountId ?? contactId;
      if (!customerId) {
        throw errors.badRequest(
          'An opportunity can only be created with an account or a contact customer.',
          '0x80040203',
        );
      }
      createFromLead(
        'opportunity',
        {
          name: v.subject ?? v.fullname,
          _customerid_value: customerId,
          _parentaccountid_value: accountId ?? null,
          _parentcontactid_value: contactId ?? null,
          _originatingleadid_value: leadId,
        },
        {
          _customerid_value: accountId ? 'account' : 'contact',
          _parentaccountid_value: accountId ? 'account' : undefined,
          _parentcontactid_value: contactId ? 'contact' : undefined,
          _originatingleadid_value: 'lead',
        },
      );
    }
    const leadChanges: Record<string, unknown> = { statecode: 1, statuscode: status };
    const leadTargets: Record<string, string | undefined> = {};
    if (accountId) {
      leadChanges._parentaccountid_value = accountId;
      leadTargets._parentaccountid_value = 'account';
    }
    if (contactId) {
      leadChanges._parentcontactid_value = contactId;
      leadTargets._parentcontactid_value = 'contact';
    }
    writeRow(store, leads, leadId, { changes: leadChanges, targets: leadTargets }, userId);
    return created;
  });
};

export const qualifyLead = (ctx: WebApiContext, req: ApiRequest, leadId: string): ApiResponse => {
  const body = parseJsonBody(req);
  const flag = (name: string): boolean => {
    const v = body[name];
    if (v === undefined) return false;
    if (typeof v !== 'boolean')
      throw errors.payload(
        'leads',
        `Cannot convert the literal '${String(v)}' to the expected type 'Edm.Boolean'.`,
      );
    return v;
  };
  const status = body.Status;
  if (status !== undefined && (typeof status !== 'number' || !Number.isInteger(status))) {
    throw errors.payload(
      'leads',
      `Cannot convert the literal '${String(status)}' to the expected type 'Edm.Int32'.`,
    );
  }
  const created = qualify(
    ctx,
    leadId,
    {
      createAccount: flag('CreateAccount'),
      createContact: flag('CreateContact'),
      createOpportunity: flag('CreateOpportunity'),
      ...(typeof status === 'number' ? { status } : {}),
    },
    req.userId,
  );
  return json(200, {
    '@odata.context': `${ctx.apiUrl}$metadata#Collection(Microsoft.Dynamics.CRM.crmbaseentity)`,
    value: created.map(({ table, id }) => {
      const t = ctx.store.table(table) as TableState;
      return { '@odata.type': `#Microsoft.Dynamics.CRM.${table}`, [t.def.primaryKey]: id };
    }),
  });
};

/**
 * Merge as the platform does it: UpdateContent goes to the target, the subordinate is
 * deactivated with merged=true and masterid=target, and child rows are re-parented.
 */
export const mergeRows = (
  ctx: WebApiContext,
  table: string,
  targetId: string,
  subordinateId: string,
  updateContent: Record<string, unknown>,
  userId: string,
  contentIds?: Map<string, string>,
): void => {
  const store = ctx.store;
  const state = store.table(table);
  if (!state || !['account', 'contact', 'lead'].includes(table)) {
    throw errors.badRequest(`Merge is not supported for entity type '${table}'.`, '0x80040203');
  }
  const target = state.rows.get(targetId);
  if (!target) throw errors.notFound(table, targetId);
  const sub = state.rows.get(subordinateId);
  if (!sub) throw errors.notFound(table, subordinateId);
  if (targetId === subordinateId) throw errors.badRequest('Cannot merge a record with itself.', '0x80040203');
  if (sub.values.merged === true)
    throw errors.badRequest('The subordinate record has already been merged.', '0x80040203');
  const update = parseBody(ctx, state, updateContent, contentIds);
  store.atomically(() => {
    store.announce('Merge', table, targetId, userId);
    if (Object.keys(update.changes).length > 0) writeRow(store, state, targetId, update, userId);
    const inactive = table === 'lead' ? { statecode: 2, statuscode: 7 } : { statecode: 1, statuscode: 2 };
    store.write(
      state,
      subordinateId,
      { ...inactive, merged: true, _masterid_value: targetId },
      { _masterid_value: table },
      userId,
    );
    const reparent = [
      '_parentcustomerid_value',
      '_parentaccountid_value',
      '_customerid_value',
      '_parentcontactid_value',
      '_regardingobjectid_value',
    ];
    for (const other of store.allTables()) {
      const cols = reparent.filter((c) => other.def.columnMap.has(c));
      if (cols.length === 0) continue;
      for (const row of [...other.rows.values()]) {
        const changes: Record<string, unknown> = {};
        for (const c of cols)
          if (row.values[c] === subordinateId && row.targets[c] === table) changes[c] = targetId;
        if (Object.keys(changes).length > 0 && !(other === state && row.id === subordinateId)) {
          store.write(other, row.id, changes, {}, userId);
        }
      }
    }
  });
};

export const merge = (ctx: WebApiContext, req: ApiRequest): ApiResponse => {
  const body = parseJsonBody(req);
  const target = entityParameter(ctx, body, 'Target');
  const sub = entityParameter(ctx, body, 'Subordinate');
  if (target.table !== sub.table)
    throw errors.badRequest('Target and Subordinate must be of the same entity type.', '0x80040203');
  const content = (
    typeof body.UpdateContent === 'object' && body.UpdateContent !== null ? body.UpdateContent : {}
  ) as Record<string, unknown>;
  const pk = ctx.store.table(target.table)?.def.primaryKey ?? '';
  const { [pk]: _ignored, ...rest } = content;
  mergeRows(ctx, target.table, target.id, sub.id, rest, req.userId, req.contentIds);
  return noContent(204);
};
