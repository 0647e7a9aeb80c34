import type { DataStore, TableState } from './data.store';
import { annotationMatcher, parseSelect } from './odata-query';
import type { PreferHeader } from './paging.cookie';
import type { PrivilegeRules } from './privilege.rules';
import type { ColumnDef, TableDef } from './schema.catalog';
import type { DataverseSimulatorError } from './simulator.errors';

// What every part of the Web API shares: the request and response shapes, the context the
// handlers are given, the OData response envelopes and URLs, and the request options they all read.

export interface ApiRequest {
  method: string;
  /** Path below the API root (`contacts(…)`), still percent-encoded, no query. */
  path: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  body: string;
  /** Acting systemuser (the application user of the caller's client). */
  userId: string;
  /** Inside a $batch changeset: Content-ID -> entity URL of its result. */
  contentIds?: Map<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  /** Pages of rows come as UTF-8 bytes, written row by row (see JsonPageWriter). */
  body: string | Buffer;
  /** What a read returned, for the opt-in latency model: rows and columns per row. */
  reads?: { rows: number; columns: number };
}

export interface WebApiContext {
  store: DataStore;
  /** Absolute API root ending with `/`. */
  apiUrl: string;
  now: () => number;
  maxPageSize: number;
  retentionDays: number;
  initialTokenAt: 'end' | 'start';
  organizationId: string;
  businessUnitId: string;
  privileges: PrivilegeRules;
}

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const JSON_TYPE = 'application/json; odata.metadata=minimal';

export const jsonText = (
  status: number,
  body: string | Buffer,
  headers: Record<string, string> = {},
): ApiResponse => ({
  status,
  headers: { 'Content-Type': JSON_TYPE, 'OData-Version': '4.0', ...headers },
  body,
});

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse =>
  jsonText(status, JSON.stringify(body), headers);

export const noContent = (status: number, headers: Record<string, string> = {}): ApiResponse => ({
  status,
  headers: { 'OData-Version': '4.0', ...headers },
  body: '',
});

export const errorResponse = (err: DataverseSimulatorError): ApiResponse & { body: string } => ({
  status: err.status,
  headers: { 'Content-Type': JSON_TYPE, 'OData-Version': '4.0', ...err.headers },
  body: err.body(),
});

/** `@odata.context` of a table's rows, naming the selected columns as the real service does. */
export const contextUrl = (
  ctx: WebApiContext,
  state: TableState,
  select: ColumnDef[] | undefined,
  suffix = '',
): string => {
  const cols = select ? `(${select.map((c) => c.name).join(',')})` : '';
  return `${ctx.apiUrl}$metadata#${state.def.entitySetName}${cols}${suffix}`;
};

export const entityUrl = (ctx: WebApiContext, state: TableState, id: string): string =>
  `${ctx.apiUrl}${state.def.entitySetName}(${id})`;

/** The request's `$select` as columns; undefined (every column) when there is none. */
export const selectOf = (req: ApiRequest, def: TableDef): ColumnDef[] | undefined =>
  req.query.has('$select') ? parseSelect(req.query.get('$select') ?? '', def) : undefined;

/** What a page read returned, for the latency model: every column when there is no `$select`. */
export const readsOf = (
  rows: number,
  select: ColumnDef[] | undefined,
  def: TableDef,
): { rows: number; columns: number } => ({ rows, columns: select?.length ?? def.columns.length });

/** Which annotations the caller asked for; undefined when none, so rows skip the check entirely. */
export const annotationsOf = (prefer: PreferHeader): ((term: string) => boolean) | undefined =>
  prefer.annotations.length > 0 ? annotationMatcher(prefer.annotations) : undefined;

export const preferenceApplied = (prefer: PreferHeader, pageSize?: number): Record<string, string> => {
  const applied: string[] = [];
  if (prefer.trackChanges) applied.push('odata.track-changes');
  if (prefer.maxPageSize !== undefined && pageSize !== undefined)
    applied.push(`odata.maxpagesize=${pageSize}`);
  if (prefer.annotations.length > 0)
    applied.push(`odata.include-annotations="${prefer.annotations.join(',')}"`);
  return applied.length > 0 ? { 'Preference-Applied': applied.join(',') } : {};
};
