import { randomUUID } from 'node:crypto';
import type { Row, TableState } from './data.store';
import { entityParameter, entityReference, guidParameter, parseJsonBody } from './body.parser';
import { listMemberTable } from './schema.catalog';
import { errors } from './simulator.errors';
import { deleteRow } from './write.handler';
import type { ApiRequest, ApiResponse, WebApiContext } from './web-api.protocol';
import { json, noContent } from './web-api.protocol';

// Marketing lists and campaigns: the members of a static list (listmember rows, through
// AddMemberList, AddListMembersList and RemoveMemberList) and the lists a campaign distributes
// (campaignitem rows, through AddItemCampaign and RemoveItemCampaign). Both are intersect rows:
// joining what is already joined changes nothing, and removing what is not there succeeds.

/** A row a member is added as: its table when the caller named one, which must be the list's. */
export interface MemberRef {
  table?: string;
  id: string;
}

const table = (ctx: WebApiContext, name: string): TableState => ctx.store.table(name) as TableState;

/**
 * The intersect rows of `state` whose `from` column holds `id`, by the id in their `to` column.
 * One pass per call, so that adding many members costs the list's rows once, not once each.
 */
const joinedTo = (state: TableState, from: string, id: string, to: string): Map<string, string> => {
  const out = new Map<string, string>();
  for (const row of state.rows.values()) if (row.values[from] === id) out.set(String(row.values[to]), row.id);
  return out;
};

/** A static list and the table its members come from (`createdfromcode`). */
const staticList = (ctx: WebApiContext, listId: string): { list: Row; members: TableState } => {
  const list = table(ctx, 'list').rows.get(listId);
  if (!list) throw errors.notFound('list', listId);
  // A dynamic list's members are whatever its query finds when it is used; none are stored.
  if (list.values.type === true) throw errors.dynamicList();
  return { list, members: table(ctx, listMemberTable(list.values.createdfromcode) ?? 'contact') };
};

/** Adds rows to a static list; returns the listmember id of each, existing or new. */
export const addListMembers = (
  ctx: WebApiContext,
  listId: string,
  refs: MemberRef[],
  userId: string,
): string[] =>
  ctx.store.atomically(() => {
    const { list, members } = staticList(ctx, listId);
    const memberTable = members.def.logicalName;
    const listMembers = table(ctx, 'listmember');
    const current = joinedTo(listMembers, '_listid_value', list.id, '_entityid_value');
    const before = current.size;
    const ids = refs.map((ref) => {
      if (ref.table !== undefined && ref.table !== memberTable)
        throw errors.listMemberType(ref.table, memberTable);
      // EntityId alone is looked up in the list's member table, so a row of another table is not found.
      if (!members.rows.has(ref.id)) throw errors.notFound(memberTable, ref.id);
      let memberId = current.get(ref.id);
      if (memberId === undefined) {
        memberId = randomUUID();
        ctx.store.write(
          listMembers,
          memberId,
          { _listid_value: list.id, _entityid_value: ref.id },
          { _listid_value: 'list', _entityid_value: memberTable },
          userId,
        );
        current.set(ref.id, memberId);
      }
      return memberId;
    });
    if (current.size !== before) countMembers(ctx, list.id, current.size, userId);
    return ids;
  });

export const removeListMember = (ctx: WebApiContext, listId: string, entityId: string, userId: string) =>
  ctx.store.atomically(() => {
    const { list } = staticList(ctx, listId);
    const listMembers = table(ctx, 'listmember');
    const current = joinedTo(listMembers, '_listid_value', list.id, '_entityid_value');
    const memberId = current.get(entityId);
    if (memberId === undefined) return;
    deleteRow(ctx.store, listMembers, memberId);
    countMembers(ctx, list.id, current.size - 1, userId);
  });

const countMembers = (ctx: WebApiContext, listId: string, count: number, userId: string): void => {
  ctx.store.write(table(ctx, 'list'), listId, { membercount: count }, {}, userId);
};

// ------------------------------------------------------------------ the Web API's actions

export const addMemberList = (ctx: WebApiContext, req: ApiRequest, listId: string): ApiResponse => {
  ctx.privileges.assert(table(ctx, 'list').def, 'write', req.userId);
  const entityId = guidParameter(parseJsonBody(req), 'EntityId');
  const [id] = addListMembers(ctx, listId, [{ id: entityId }], req.userId);
  return json(200, {
    '@odata.context': `${ctx.apiUrl}$metadata#Microsoft.Dynamics.CRM.AddMemberListResponse`,
    Id: id,
  });
};

export const removeMemberList = (ctx: WebApiContext, req: ApiRequest, listId: string): ApiResponse => {
  ctx.privileges.assert(table(ctx, 'list').def, 'write', req.userId);
  removeListMember(ctx, listId, guidParameter(parseJsonBody(req), 'EntityId'), req.userId);
  return noContent(204);
};

export const addListMembersList = (ctx: WebApiContext, req: ApiRequest): ApiResponse => {
  ctx.privileges.assert(table(ctx, 'list').def, 'write', req.userId);
  const body = parseJsonBody(req);
  const list = entityParameter(ctx, body, 'List', 'list');
  if (list.table !== 'list') throw errors.badRequest(`Parameter 'List' must be a list.`, '0x80040203');
  if (!Array.isArray(body.Members)) throw errors.badRequest(`Parameter 'Members' is required.`, '0x80040203');
  const members = body.Members.map((m) => entityReference(ctx, m, 'Members'));
  addListMembers(ctx, list.id, members, req.userId);
  return noContent(204);
};

/** Associates a list with a campaign; returns the campaignitem, existing or new. */
const addCampaignItem = (ctx: WebApiContext, campaignId: string, listId: string, userId: string): string =>
  ctx.store.atomically(() => {
    if (!table(ctx, 'campaign').rows.has(campaignId)) throw errors.notFound('campaign', campaignId);
    if (!table(ctx, 'list').rows.has(listId)) throw errors.notFound('list', listId);
    const items = table(ctx, 'campaignitem');
    const existing = joinedTo(items, '_campaignid_value', campaignId, 'entityid').get(listId);
    if (existing !== undefined) return existing;
    const id = randomUUID();
    ctx.store.write(
      items,
      id,
      { _campaignid_value: campaignId, entityid: listId, entitytype: 'list' },
      { _campaignid_value: 'campaign' },
      userId,
    );
    return id;
  });

/** `AddItemCampaign` with `EntityName: "list"`, the one kind of campaign item modelled. */
export const addItemCampaign = (ctx: WebApiContext, req: ApiRequest): ApiResponse => {
  ctx.privileges.assert(table(ctx, 'campaign').def, 'write', req.userId);
  const body = parseJsonBody(req);
  const campaignId = guidParameter(body, 'CampaignId');
  const entityId = guidParameter(body, 'EntityId');
  campaignItemKind(body);
  const id = addCampaignItem(ctx, campaignId, entityId, req.userId);
  return json(200, {
    '@odata.context': `${ctx.apiUrl}$metadata#Microsoft.Dynamics.CRM.AddItemCampaignResponse`,
    CampaignItemId: id,
  });
};

export const removeItemCampaign = (ctx: WebApiContext, req: ApiRequest): ApiResponse => {
  ctx.privileges.assert(table(ctx, 'campaign').def, 'write', req.userId);
  const body = parseJsonBody(req);
  const campaignId = guidParameter(body, 'CampaignId');
  const entityId = guidParameter(body, 'EntityId');
  ctx.store.atomically(() => {
    if (!table(ctx, 'campaign').rows.has(campaignId)) throw errors.notFound('campaign', campaignId);
    const items = table(ctx, 'campaignitem');
    const id = joinedTo(items, '_campaignid_value', campaignId, 'entityid').get(entityId);
    if (id !== undefined) deleteRow(ctx.store, items, id);
  });
  return noContent(204);
};

const campaignItemKind = (body: Record<string, unknown>): void => {
  const name = body.EntityName;
  if (name === undefined) throw errors.badRequest(`Parameter 'EntityName' is required.`, '0x80040203');
  if (name !== 'list') {
    throw errors.badRequest(
      `The simulator models marketing lists as campaign items, not '${String(name)}'.`,
      '0x80040203',
    );
  }
};
