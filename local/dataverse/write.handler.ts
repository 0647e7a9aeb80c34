import { randomUUID } from 'node:crypto';
import type { DataStore, Row, TableState, WriteResult } from './data.store';
import { parseBody, parseJsonBody, type ParsedBody } from './body.parser';
import { pairConnection } from './connection.rules';
import { parsePrefer } from './paging.cookie';
import { projectRow } from './row.serializer';
import { errors } from './simulator.errors';
import type { ApiRequest, ApiResponse, WebApiContext } from './web-api.protocol';
import { annotationsOf, contextUrl, entityUrl, json, noContent, selectOf } from './web-api.protocol';

// Writes: create (POST), update or upsert (PATCH) and delete, with If-Match / If-None-Match,
// privileges, and the columns the platform derives on every write.

export const create = (ctx: WebApiContext, state: TableState, req: ApiRequest): ApiResponse => {
  if (state.def.apiReadOnly) throw errors.methodNotSupported('Create', state.def.logicalName);
  ctx.privileges.assert(state.def, 'create', req.userId);
  const parsed = parseBody(ctx, state, parseJsonBody(req), req.contentIds);
  const id = parsed.id ?? randomUUID();
  if (state.rows.has(id)) throw errors.duplicateKey();
  assertBindings(ctx, state, undefined, parsed, req.userId);
  const { row } = writeRow(ctx.store, state, id, parsed, req.userId);
  return writeResponse(ctx, state, row, true, req);
};

export const upsert = (ctx: WebApiContext, state: TableState, id: string, req: ApiRequest): ApiResponse => {
  const existing = state.rows.get(id);
  checkIfMatch(state, id, existing, req.headers['if-match']);
  if (req.headers['if-none-match']?.trim() === '*' && existing) throw errors.duplicateKey();
  const parsed = parseBody(ctx, state, parseJsonBody(req), req.contentIds);
  if (parsed.id !== undefined && parsed.id !== id) {
    throw errors.badRequest(
      `The value of '${state.def.primaryKey}' in the body does not match the key in the URL.`,
      '0x80048d19',
    );
  }
  assertWritable(state, existing, parsed, existing ? 'Update' : 'Create');
  ctx.privileges.assert(state.def, existing ? 'write' : 'create', req.userId);
  assertBindings(ctx, state, existing, parsed, req.userId);
  const { row, created } = writeRow(ctx.store, state, id, parsed, req.userId);
  return writeResponse(ctx, state, row, created, req);
};

export const remove = (ctx: WebApiContext, state: TableState, id: string, req: ApiRequest): ApiResponse => {
  if (state.def.apiReadOnly) throw errors.methodNotSupported('Delete', state.def.logicalName);
  const existing = state.rows.get(id);
  if (!existing) throw errors.notFound(state.def.logicalName, id);
  checkIfMatch(state, id, existing, req.headers['if-match']);
  ctx.privileges.assert(state.def, 'delete', req.userId);
  deleteRow(ctx.store, state, id, req.userId);
  return noContent(204);
};

/**
 * Deletes a row and, in the same transaction, the rows that only exist through it (list
 * memberships, connections and their reciprocals): the platform's cascade delete.
 */
export const deleteRow = (store: DataStore, state: TableState, id: string, actorId?: string): boolean =>
  store.atomically(() => {
    if (!store.delete(state, id, actorId)) return false;
    const key = id.toLowerCase();
    const table = state.def.logicalName;
    for (const other of store.allTables()) {
      const columns = other.def.columns.filter((c) => c.deletedWith?.includes(table));
      if (columns.length === 0) continue;
      for (const row of [...other.rows.values()])
        if (columns.some((c) => row.values[c.name] === key)) deleteRow(store, other, row.id, actorId);
    }
    return true;
  });

/** Applies a validated body to a row (creating it when missing) as the given user. */
export type RowWriter = (
  store: DataStore,
  state: TableState,
  id: string,
  parsed: ParsedBody,
  userId: string,
) => WriteResult;

/** Shared by the API, its actions and the control API. */
export const writeRow: RowWriter = (store, state, id, parsed, userId) => {
  const existing = state.rows.get(id);
  normalise(state, existing, parsed, userId);
  if (state.def.logicalName !== 'connection')
    return store.write(state, id, parsed.changes, parsed.targets, userId);
  return store.atomically(() => pairConnection(store, state, id, parsed, userId));
};

/**
 * Binding a lookup takes Append on the row and AppendTo on the row it points at; handing a row to
 * another owner takes Assign.
 */
function assertBindings(
  ctx: WebApiContext,
  state: TableState,
  existing: Row | undefined,
  parsed: ParsedBody,
  userId: string,
): void {
  for (const [column, target] of Object.entries(parsed.targets)) {
    if (target === undefined) continue;
    if (column === '_ownerid_value') {
      if (existing && existing.values._ownerid_value !== parsed.changes._ownerid_value)
        ctx.privileges.assert(state.def, 'assign', userId);
      continue;
    }
    ctx.privileges.assert(state.def, 'append', userId);
    const targetTable = ctx.store.table(target);
    if (targetTable) ctx.privileges.assert(targetTable.def, 'appendto', userId);
  }
}

/** Derived columns and state/status consistency, as the platform enforces them. */
function normalise(state: TableState, existing: Row | undefined, parsed: ParsedBody, userId: string): void {
  const def = state.def;
  const ch = parsed.changes;
  const merged = { ...(existing?.values ?? {}), ...ch };
  if (
    def.columnMap.has('fullname') &&
    def.columnMap.has('firstname') &&
    ('firstname' in ch || 'lastname' in ch)
  ) {
    ch.fullname = [merged.firstname, merged.lastname]
      .filter((s) => typeof s === 'string' && s !== '')
      .join(' ');
  }
  if (def.states) {
    const states = def.states;
    if ('statecode' in ch || 'statuscode' in ch || !existing) {
      const stateCode = (ch.statecode ?? (existing ? merged.statecode : 0)) as number | null;
      let statusCode = ch.statuscode as number | null | undefined;
      let st = states.find((s) => s.state === stateCode);
      if (statusCode !== undefined && statusCode !== null && !('statecode' in ch)) {
        st = states.find((s) => s.statuses.some((o) => o.value === statusCode));
      }
      if (!st) st = states[0];
      if (!st) return;
      if (statusCode === undefined || statusCode === null) {
        const current = existing?.values.statuscode as number | undefined;
        statusCode = st.statuses.some((o) => o.value === current)
          ? (current as number)
          : (st.statuses[0]?.value ?? 1);
      }
      if (!st.statuses.some((o) => o.value === statusCode)) {
        throw errors.badRequest(
          `${statusCode} is not a valid status code for state code ${def.logicalName}State.${st.label}`,
          '0x80040203',
        );
      }
      ch.statecode = st.state;
      ch.statuscode = statusCode;
    }
  }
  if (!existing) {
    for (const c of def.columns) if (c.default !== undefined && !(c.name in ch)) ch[c.name] = c.default;
  }
  if (!existing && def.ownership === 'user' && !('_ownerid_value' in ch && ch._ownerid_value !== null)) {
    ch._ownerid_value = userId;
    parsed.targets._ownerid_value = 'systemuser';
  }
}

function assertWritable(
  state: TableState,
  existing: Row | undefined,
  parsed: ParsedBody,
  method: 'Create' | 'Update',
): void {
  if (state.def.apiReadOnly) throw errors.methodNotSupported(method, state.def.logicalName);
  if (state.def.logicalName === 'lead' && existing && existing.values.statecode !== 0) {
    // A closed lead can only be reopened, or assigned: the platform runs an owner change as Assign.
    const assignOnly = Object.keys(parsed.changes).every((k) => k === '_ownerid_value');
    if (!assignOnly && parsed.changes.statecode !== 0) throw errors.readOnlyRecord('lead');
  }
}

function checkIfMatch(
  state: TableState,
  id: string,
  existing: Row | undefined,
  ifMatch: string | undefined,
): void {
  if (ifMatch === undefined) return;
  if (!existing) throw errors.notFound(state.def.logicalName, id);
  if (ifMatch.trim() === '*') return;
  const tags = ifMatch.split(',').map((t) => t.trim());
  if (!tags.includes(`W/"${existing.version}"`)) throw errors.versionMismatch();
}

function writeResponse(
  ctx: WebApiContext,
  state: TableState,
  row: Row,
  created: boolean,
  req: ApiRequest,
): ApiResponse {
  const prefer = parsePrefer(req.headers.prefer);
  const location = entityUrl(ctx, state, row.id);
  if (prefer.returnRepresentation) {
    const select = selectOf(req, state.def);
    return json(
      created ? 201 : 200,
      {
        '@odata.context': contextUrl(ctx, state, select, '/$entity'),
        ...projectRow(ctx.store, state, row, select, annotationsOf(prefer)),
      },
      {
        'OData-EntityId': location,
        'Preference-Applied': 'return=representation',
        ETag: `W/"${row.version}"`,
      },
    );
  }
  return noContent(204, { 'OData-EntityId': location, ...(created ? { Location: location } : {}) });
}
