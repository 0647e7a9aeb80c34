import { randomUUID } from 'node:crypto';
import { DataStore, isoSeconds, upperBoundId, type Row, type TableState } from './data.store';
import {
  annotationMatcher,
  edmType,
  makeComparator,
  parseFilter,
  parseOrderBy,
  parseSelect,
  type OrderKey,
  type Predicate,
} from './odata-query';
import {
  decodeDeltaToken,
  decodeSkipToken,
  encodeDeltaToken,
  encodeSkipToken,
  parsePrefer,
  type PageCookie,
  type PreferHeader,
} from './paging.cookie';
import { JsonPageWriter } from './json-page.writer';
import type { ColumnDef } from './schema.catalog';
import { DataverseSimulatorError, errors } from './simulator.errors';

import type { PrivilegeRules } from './privilege.rules';

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

const FV = 'OData.Community.Display.V1.FormattedValue';
const LLN = 'Microsoft.Dynamics.CRM.lookuplogicalname';
const ANP = 'Microsoft.Dynamics.CRM.associatednavigationproperty';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COUNT_CAP = 5000;
const JSON_TYPE = 'application/json; odata.metadata=minimal';

const jsonText = (
  status: number,
  body: string | Buffer,
  headers: Record<string, string> = {},
): ApiResponse => ({
  status,
  headers: { 'Content-Type': JSON_TYPE, 'OData-Version': '4.0', ...headers },
  body,
});

const json = (status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse =>
  jsonText(status, JSON.stringify(body), headers);

const noContent = (status: number, headers: Record<string, string> = {}): ApiResponse => ({
  status,
  headers: { 'OData-Version': '4.0', ...headers },
  body: '',
});

export const errorResponse = (err: DataverseSimulatorError): ApiResponse & { body: string } => ({
  status: err.status,
  headers: {
    'Content-Type': 'application/json; odata.metadata=minimal',
    'OData-Version': '4.0',
    ...err.headers,
  },
  body: err.body(),
});

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 10 });
const formatDate = (iso: string): string => {
  const d = new Date(iso);
  const h = d.getUTCHours();
  const m = String(d.getUTCMinutes()).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h % 12 === 0 ? 12 : h % 12}:${m} ${h < 12 ? 'AM' : 'PM'}`;
};

/**
 * `number.format` for the values columns mostly hold (safe integers: version numbers, counts),
 * grouped by hand: Intl costs more than the rest of the row. Anything else, -0 included, goes to Intl.
 */
const formatNumber = (v: unknown): string => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) return number.format(n);
  const digits = String(n < 0 ? -n : n);
  let i = digits.length % 3 || 3;
  let out = digits.slice(0, i);
  for (; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
};

/** What serving a column needs that is the same for every row, worked out once per column. */
interface ColumnPlan {
  /** Property names and their JSON `"name":` prefixes: built once, not per row. */
  nameKey: ServedKey;
  fvKey: ServedKey;
  anpKey: ServedKey;
  llnKey: ServedKey;
  /** Choice value -> label, the first option winning as with `options.find`. */
  labels: Map<unknown, string>;
  /** Lookup target table -> navigation property (undefined when there is none). */
  navs: Map<string, string | undefined>;
}

/** A property name with its JSON text (`,"name":`), so a row serialised as text concatenates, not escapes. */
interface ServedKey {
  name: string;
  json: string;
}

const servedKey = (name: string): ServedKey => ({ name, json: `,${JSON.stringify(name)}:` });

const columnPlans = new WeakMap<ColumnDef, ColumnPlan>();

function columnPlan(c: ColumnDef): ColumnPlan {
  let plan = columnPlans.get(c);
  if (plan !== undefined) return plan;
  const labels = new Map<unknown, string>();
  for (const o of c.options ?? []) if (!labels.has(o.value)) labels.set(o.value, o.label);
  plan = {
    nameKey: servedKey(c.name),
    fvKey: servedKey(`${c.name}@${FV}`),
    anpKey: servedKey(`${c.name}@${ANP}`),
    llnKey: servedKey(`${c.name}@${LLN}`),
    labels,
    navs: new Map(),
  };
  columnPlans.set(c, plan);
  return plan;
}

/** Strings that JSON.stringify would change beyond adding quotes (quotes, backslashes, controls, surrogates). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(v)` for the values rows hold, without a call into the serialiser for plain strings. */
const jsonValue = (v: unknown): string => {
  if (typeof v === 'string') return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v) ?? 'null';
};

/**
 * Where a served row's properties go, in order: an object (single reads, the control API) or JSON
 * text (pages: thousands of rows of some 40 properties each, where building objects only to
 * stringify them cost as much as everything else the simulator does for a page).
 */
interface RowSink<T> {
  begin(etag: string): void;
  put(key: ServedKey, value: unknown): void;
  end(): T;
}

const objectSink = (): RowSink<Record<string, unknown>> => {
  let out: Record<string, unknown> = {};
  return {
    begin(etag) {
      out = { '@odata.etag': etag };
    },
    put(key, value) {
      out[key.name] = value;
    },
    end: () => out,
  };
};

const textSink = (): RowSink<string> => {
  let out = '';
  return {
    begin(etag) {
      out = `{"@odata.etag":${jsonValue(etag)}`;
    },
    put(key, value) {
      out += key.json + jsonValue(value);
    },
    end: () => `${out}}`,
  };
};

/** Which annotations a request asked for, decided once per request rather than per value. */
interface AnnotationFlags {
  fv: boolean;
  anp: boolean;
  lln: boolean;
}

interface ParsedBody {
  changes: Record<string, unknown>;
  targets: Record<string, string | undefined>;
  id?: string;
}

/** The Web API proper: one request in, one response out, synchronously against the store. */
export class WebApi {
  constructor(private readonly ctx: WebApiContext) {}

  handle(req: ApiRequest): ApiResponse {
    try {
      return this.route(req);
    } catch (err) {
      if (err instanceof DataverseSimulatorError) return errorResponse(err);
      throw err;
    }
  }

  private get store(): DataStore {
    return this.ctx.store;
  }

  private route(req: ApiRequest): ApiResponse {
    const path = decodeURIComponent(req.path).replace(/^\/+/, '');
    const method = req.method.toUpperCase();
    let m: RegExpExecArray | null;
    if (/^WhoAmI(\(\))?$/.test(path)) {
      if (method !== 'GET') throw errors.methodNotAllowed();
      const userId = req.userId;
      return json(200, {
        '@odata.context': `${this.ctx.apiUrl}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
        BusinessUnitId: this.ctx.businessUnitId,
        UserId: userId,
        OrganizationId: this.ctx.organizationId,
      });
    }
    if (path === 'Merge') {
      if (method !== 'POST') throw errors.methodNotAllowed();
      return this.merge(req);
    }
    if ((m = /^EntityDefinitions(?:\((.*?)\))?(?:\/(Attributes))?$/.exec(path))) {
      if (method !== 'GET') throw errors.methodNotAllowed();
      return this.entityDefinitions(m[1], m[2] !== undefined, req);
    }
    if ((m = /^([A-Za-z0-9_]+)\(([^)]*)\)\/Microsoft\.Dynamics\.CRM\.([A-Za-z]+)$/.exec(path))) {
      const state = this.tableOf(m[1] as string);
      if (method !== 'POST') throw errors.methodNotAllowed();
      if (m[3] === 'QualifyLead' && state.def.logicalName === 'lead')
        return this.qualifyLead(req, this.keyOf(m[2] as string, state));
      throw errors.resourceNotFound(`Microsoft.Dynamics.CRM.${m[3] ?? ''}`);
    }
    if ((m = /^([A-Za-z0-9_]+)\/\$count$/.exec(path))) {
      if (method !== 'GET') throw errors.methodNotAllowed();
      return this.count(this.tableOf(m[1] as string), req);
    }
    if ((m = /^([A-Za-z0-9_]+)\(([^)]*)\)$/.exec(path))) {
      const state = this.tableOf(m[1] as string);
      const id = this.keyOf(m[2] as string, state);
      switch (method) {
        case 'GET':
          return this.retrieve(state, id, req);
        case 'PATCH':
          return this.upsert(state, id, req);
        case 'DELETE':
          return this.remove(state, id, req);
        default:
          throw errors.methodNotAllowed();
      }
    }
    if ((m = /^([A-Za-z0-9_]+)$/.exec(path))) {
      const state = this.tableOf(m[1] as string);
      if (method === 'GET') return this.query(state, req);
      if (method === 'POST') return this.create(state, req);
      throw errors.methodNotAllowed();
    }
    throw errors.resourceNotFound(path.split('/')[0] ?? path);
  }

  private tableOf(set: string): TableState {
    const state = this.store.tableBySet(set);
    if (!state) throw errors.resourceNotFound(set);
    return state;
  }

  private keyOf(key: string, state: TableState): string {
    const k = key.trim();
    const named = /^([a-z0-9_]+)=(.+)$/.exec(k);
    const value = named ? (named[2] as string) : k;
    if (named && named[1] !== state.def.primaryKey) {
      throw errors.badRequest(
        `The key used to reference ${state.def.logicalName} is not defined: ${named[1] ?? ''}. Define an alternate key first.`,
      );
    }
    if (!GUID.test(value)) throw errors.badRequest(`Bad Request - Error in query syntax.`);
    return value.toLowerCase();
  }

  // ---------------------------------------------------------------- reads

  private annotate(prefer: PreferHeader): ((term: string) => boolean) | undefined {
    return prefer.annotations.length > 0 ? annotationMatcher(prefer.annotations) : undefined;
  }

  private context(state: TableState, select: ColumnDef[] | undefined, suffix = ''): string {
    const cols = select ? `(${select.map((c) => c.name).join(',')})` : '';
    return `${this.ctx.apiUrl}$metadata#${state.def.entitySetName}${cols}${suffix}`;
  }

  project(
    state: TableState,
    row: Row,
    select: ColumnDef[] | undefined,
    annotate?: (term: string) => boolean,
  ): Record<string, unknown> {
    return this.projector(state, select, annotate, objectSink())(row);
  }

  private pageWriter(head: Record<string, unknown>, rows: number): JsonPageWriter {
    // Rows of the built-in tables serve at 0.5-2 KB; starting near the right size saves regrowing.
    return new JsonPageWriter(head, 1024 + rows * 1024);
  }

  /** Rows of one request served as JSON text: everything that does not depend on the row is done once. */
  private serializer(
    state: TableState,
    select: ColumnDef[] | undefined,
    annotate: ((term: string) => boolean) | undefined,
  ): (row: Row) => string {
    return this.projector(state, select, annotate, textSink());
  }

  private projector<T>(
    state: TableState,
    select: ColumnDef[] | undefined,
    annotate: ((term: string) => boolean) | undefined,
    sink: RowSink<T>,
  ): (row: Row) => T {
    const def = state.def;
    const columns = select ?? def.columns;
    const plans = columns.map(columnPlan);
    const flags: AnnotationFlags | undefined = annotate
      ? { fv: annotate(FV), anp: annotate(ANP), lln: annotate(LLN) }
      : undefined;
    const annotated = flags !== undefined && (flags.fv || flags.anp || flags.lln);
    const targets = new Map<string, TableState | undefined>();
    const targetTable = (name: string): TableState | undefined => {
      if (!targets.has(name)) targets.set(name, this.store.table(name));
      return targets.get(name);
    };
    const primaryKey = def.primaryKey;
    // A $select without the key still returns it, after the selected columns.
    const addKey = select !== undefined && !select.some((c) => c.name === primaryKey);
    const keyProperty = servedKey(primaryKey);
    return (row) => {
      sink.begin(`W/"${row.version}"`);
      const values = row.values;
      for (let i = 0; i < columns.length; i++) {
        const c = columns[i] as ColumnDef;
        const plan = plans[i] as ColumnPlan;
        const v = values[c.name] ?? null;
        if (annotated && v !== null) this.annotations(sink, c, plan, v, row, flags, targetTable);
        sink.put(plan.nameKey, v);
      }
      if (addKey) sink.put(keyProperty, row.id);
      return sink.end();
    };
  }

  private annotations(
    sink: RowSink<unknown>,
    c: ColumnDef,
    plan: ColumnPlan,
    v: unknown,
    row: Row,
    flags: AnnotationFlags,
    targetTable: (name: string) => TableState | undefined,
  ): void {
    const fv = flags.fv;
    switch (c.type) {
      case 'choice':
        if (fv) sink.put(plan.fvKey, plan.labels.get(v) ?? String(v));
        break;
      case 'bool':
        if (fv) sink.put(plan.fvKey, (c.boolLabels ?? ['No', 'Yes'])[v === true ? 1 : 0]);
        break;
      case 'datetime':
        if (fv) sink.put(plan.fvKey, formatDate(String(v)));
        break;
      case 'money':
        if (fv) sink.put(plan.fvKey, money.format(Number(v)));
        break;
      case 'int':
      case 'decimal':
        if (fv) sink.put(plan.fvKey, formatNumber(v));
        break;
      case 'lookup': {
        const target = row.targets[c.name];
        if (!target) break;
        if (fv) {
          const t = targetTable(target);
          const name = t?.rows.get(String(v))?.values[t.def.primaryName];
          if (name !== undefined && name !== null) sink.put(plan.fvKey, name);
        }
        if (flags.anp) {
          if (!plan.navs.has(target)) {
            plan.navs.set(
              target,
              c.attribute === 'ownerid'
                ? 'ownerid'
                : Object.entries(c.navigations ?? {}).find(([, t]) => t === target)?.[0],
            );
          }
          const nav = plan.navs.get(target);
          if (nav) sink.put(plan.anpKey, nav);
        }
        if (flags.lln) sink.put(plan.llnKey, target);
        break;
      }
      default:
        break;
    }
  }

  private preferenceApplied(prefer: PreferHeader, pageSize?: number): Record<string, string> {
    const applied: string[] = [];
    if (prefer.trackChanges) applied.push('odata.track-changes');
    if (prefer.maxPageSize !== undefined && pageSize !== undefined)
      applied.push(`odata.maxpagesize=${pageSize}`);
    if (prefer.annotations.length > 0)
      applied.push(`odata.include-annotations="${prefer.annotations.join(',')}"`);
    return applied.length > 0 ? { 'Preference-Applied': applied.join(',') } : {};
  }

  private pageSize(prefer: PreferHeader): number {
    return Math.min(prefer.maxPageSize ?? this.ctx.maxPageSize, this.ctx.maxPageSize);
  }

  private retrieve(state: TableState, id: string, req: ApiRequest): ApiResponse {
    this.ctx.privileges.assert(state.def.logicalName, 'read', req.userId);
    const select = req.query.has('$select')
      ? parseSelect(req.query.get('$select') ?? '', state.def)
      : undefined;
    const row = state.rows.get(id);
    if (!row) throw errors.notFound(state.def.logicalName, id);
    const inm = req.headers['if-none-match'];
    if (inm && inm === `W/"${row.version}"`) return noContent(304);
    const prefer = parsePrefer(req.headers.prefer);
    return json(
      200,
      {
        '@odata.context': this.context(state, select, '/$entity'),
        ...this.project(state, row, select, this.annotate(prefer)),
      },
      this.preferenceApplied(prefer),
    );
  }

  private refuseWithTracking(req: ApiRequest): void {
    for (const p of ['$filter', '$orderby', '$top', '$expand']) {
      if (req.query.has(p)) throw errors.trackingRefused(p);
    }
  }

  private rejectUnsupported(req: ApiRequest): void {
    if (req.query.has('$skip')) throw errors.badRequest('The query parameter $skip is not supported');
    if (req.query.has('$expand')) throw errors.badRequest('The simulator does not support $expand.');
    if (req.query.has('$apply')) throw errors.badRequest('The simulator does not support $apply.');
  }

  private linkWith(state: TableState, req: ApiRequest, extra: Record<string, string>): string {
    const params: string[] = [];
    for (const [k, v] of req.query) {
      if (k === '$skiptoken' || k === '$deltatoken' || k in extra) continue;
      params.push(`${k}=${encodeURIComponent(v).replace(/%2C/g, ',')}`);
    }
    for (const [k, v] of Object.entries(extra)) params.push(`${k}=${encodeURIComponent(v)}`);
    return `${this.ctx.apiUrl}${state.def.entitySetName}?${params.join('&')}`;
  }

  private query(state: TableState, req: ApiRequest): ApiResponse {
    this.ctx.privileges.assert(state.def.logicalName, 'read', req.userId);
    const prefer = parsePrefer(req.headers.prefer);
    const skip = req.query.get('$skiptoken');
    const cookie = skip !== null ? decodeSkipToken(skip) : undefined;
    if (skip !== null && !cookie) throw errors.badRequest('The $skiptoken is invalid.');
    const deltaToken = req.query.get('$deltatoken');
    if (deltaToken !== null || prefer.trackChanges || cookie?.tracking) {
      if (!state.tracked) throw errors.notTracked(state.def.logicalName);
      this.refuseWithTracking(req);
      if (deltaToken !== null) return this.deltaRead(state, req, prefer, deltaToken, cookie);
      return this.initialLoad(state, req, prefer, cookie);
    }
    this.rejectUnsupported(req);
    const def = state.def;
    const select = req.query.has('$select') ? parseSelect(req.query.get('$select') ?? '', def) : undefined;
    const filterText = req.query.get('$filter');
    const filter = filterText !== null ? parseFilter(filterText, def) : undefined;
    const orderText = req.query.get('$orderby');
    const order = orderText !== null ? parseOrderBy(orderText, def) : [];
    let pageSize = this.pageSize(prefer);
    const topText = req.query.get('$top');
    let top: number | undefined;
    if (topText !== null) {
      top = Number(topText);
      if (!Number.isInteger(top) || top < 0)
        throw errors.badRequest(`Invalid value '${topText}' for $top query option found.`);
      // With a page size the real service ignores $top.
      if (prefer.maxPageSize === undefined) pageSize = Math.min(top, pageSize);
      else top = undefined;
    }
    const wantCount = req.query.get('$count') === 'true';
    const { rows, more, total } = this.page(state, filter, order, pageSize, cookie, wantCount);
    const annotate = this.annotate(prefer);
    const head: Record<string, unknown> = { '@odata.context': this.context(state, select) };
    if (wantCount) head['@odata.count'] = Math.min(total ?? 0, COUNT_CAP);
    const body = this.pageWriter(head, rows.length);
    const serialize = this.serializer(state, select, annotate);
    for (const row of rows) body.row(serialize(row));
    const tail: Record<string, unknown> = {};
    if (more && top === undefined) {
      const last = rows[rows.length - 1] as Row;
      const next: PageCookie = {
        page: (cookie?.page ?? 1) + 1,
        lastId: last.id,
        ...(order.length > 0 ? { keys: order.map((k) => last.values[k.column.name] ?? null) } : {}),
      };
      tail['@odata.nextLink'] = this.linkWith(state, req, { $skiptoken: encodeSkipToken(next) });
    }
    return jsonText(200, body.end(tail), this.preferenceApplied(prefer, pageSize));
  }

  /** One page of rows after the cookie's position, in order-by order (primary key when none). */
  private page(
    state: TableState,
    filter: Predicate | undefined,
    order: OrderKey[],
    pageSize: number,
    cookie: PageCookie | undefined,
    wantCount: boolean,
  ): { rows: Row[]; more: boolean; total?: number } {
    const rowsById = state.rows;
    if (order.length === 0) {
      const ids = state.sortedIds;
      const start = cookie?.lastId ? upperBoundId(ids, cookie.lastId) : 0;
      const rows: Row[] = [];
      let more = false;
      if (!filter) {
        for (let i = start; i < ids.length; i++) {
          if (rows.length === pageSize) {
            more = true;
            break;
          }
          rows.push(rowsById.get(ids[i] as string) as Row);
        }
        return { rows, more, total: ids.length };
      }
      for (let i = start; i < ids.length; i++) {
        const row = rowsById.get(ids[i] as string) as Row;
        if (!filter(row.values)) continue;
        if (rows.length === pageSize) {
          more = true;
          break;
        }
        rows.push(row);
      }
      if (!wantCount) return { rows, more };
      let total = 0;
      for (const row of rowsById.values()) if (filter(row.values)) total++;
      return { rows, more, total };
    }
    const matching: Row[] = [];
    for (const row of rowsById.values()) if (!filter || filter(row.values)) matching.push(row);
    const cmp = makeComparator(order, state.def.primaryKey);
    matching.sort((a, b) => cmp(a.values, b.values));
    let start = 0;
    if (cookie?.lastId) {
      const probe: Record<string, unknown> = { [state.def.primaryKey]: cookie.lastId };
      order.forEach((k, i) => (probe[k.column.name] = cookie.keys?.[i] ?? null));
      let lo = 0;
      let hi = matching.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cmp((matching[mid] as Row).values, probe) <= 0) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const rows = matching.slice(start, start + pageSize);
    return { rows, more: start + pageSize < matching.length, total: matching.length };
  }

  private initialLoad(
    state: TableState,
    req: ApiRequest,
    prefer: PreferHeader,
    cookie: PageCookie | undefined,
  ): ApiResponse {
    const def = state.def;
    const select = req.query.has('$select') ? parseSelect(req.query.get('$select') ?? '', def) : undefined;
    const pageSize = this.pageSize(prefer);
    const startVersion = cookie?.startVersion ?? this.store.version;
    const { rows, more } = this.page(state, undefined, [], pageSize, cookie, false);
    const annotate = this.annotate(prefer);
    const body = this.pageWriter({ '@odata.context': this.context(state, select) }, rows.length);
    const serialize = this.serializer(state, select, annotate);
    for (const row of rows) body.row(serialize(row));
    const tail: Record<string, unknown> = {};
    if (more) {
      const next: PageCookie = {
        page: (cookie?.page ?? 1) + 1,
        lastId: (rows[rows.length - 1] as Row).id,
        startVersion,
        tracking: true,
      };
      tail['@odata.nextLink'] = this.linkWith(state, req, { $skiptoken: encodeSkipToken(next) });
    } else {
      // 'end' reproduces the real hazard: rows edited behind the load's cursor are not in the next delta.
      const version = this.ctx.initialTokenAt === 'start' ? startVersion : this.store.version;
      tail['@odata.deltaLink'] = this.deltaLink(state, req, version);
    }
    return jsonText(200, body.end(tail), this.preferenceApplied({ ...prefer, trackChanges: true }, pageSize));
  }

  private deltaLink(state: TableState, req: ApiRequest, version: number): string {
    const token = encodeDeltaToken({ version, epoch: state.tokenEpoch, issuedAt: this.ctx.now() });
    return this.linkWith(state, req, { $deltatoken: token });
  }

  private checkToken(state: TableState, text: string): number {
    const token = decodeDeltaToken(text);
    const maxAge = this.ctx.retentionDays * 86400_000;
    if (
      !token ||
      token.epoch < state.tokenEpoch ||
      token.version > this.store.version ||
      this.ctx.now() - token.issuedAt > maxAge
    ) {
      throw errors.tokenExpired();
    }
    return token.version;
  }

  private deltaRead(
    state: TableState,
    req: ApiRequest,
    prefer: PreferHeader,
    tokenText: string,
    cookie: PageCookie | undefined,
  ): ApiResponse {
    const def = state.def;
    const from = this.checkToken(state, tokenText);
    const select = req.query.has('$select') ? parseSelect(req.query.get('$select') ?? '', def) : undefined;
    const pageSize = this.pageSize(prefer);
    const upTo = cookie?.upTo ?? this.store.version;
    const offset = cookie?.offset ?? 0;
    const { upserts, deletes } = this.store.changesBetween(state, from, upTo);
    const all = [...upserts, ...deletes];
    const slice = all.slice(offset, offset + pageSize);
    const serialize = this.serializer(state, select, this.annotate(prefer));
    const deletedContext = `${this.ctx.apiUrl}$metadata#${def.entitySetName}/$deletedEntity`;
    const body = this.pageWriter({ '@odata.context': this.context(state, select, '/$delta') }, slice.length);
    for (const entry of slice) {
      if (entry.deleted) {
        body.row(JSON.stringify({ '@odata.context': deletedContext, id: entry.id, reason: 'deleted' }));
        continue;
      }
      const row = state.rows.get(entry.id);
      // Deleted after this read's upper bound: its tombstone comes in the next delta.
      if (row) body.row(serialize(row));
    }
    const tail: Record<string, unknown> = {};
    if (offset + pageSize < all.length) {
      const next: PageCookie = {
        page: (cookie?.page ?? 1) + 1,
        upTo,
        offset: offset + pageSize,
        tracking: true,
      };
      tail['@odata.nextLink'] = this.linkWith(state, req, {
        $deltatoken: tokenText,
        $skiptoken: encodeSkipToken(next),
      });
    } else {
      tail['@odata.deltaLink'] = this.deltaLink(state, req, upTo);
    }
    return jsonText(200, body.end(tail), this.preferenceApplied({ ...prefer, trackChanges: true }, pageSize));
  }

  private count(state: TableState, req: ApiRequest): ApiResponse {
    const text = (n: number): ApiResponse => ({
      status: 200,
      headers: { 'Content-Type': 'text/plain', 'OData-Version': '4.0' },
      body: String(n),
    });
    const deltaToken = req.query.get('$deltatoken');
    if (deltaToken !== null) {
      if (!state.tracked) throw errors.notTracked(state.def.logicalName);
      const from = this.checkToken(state, deltaToken);
      const { upserts, deletes } = this.store.changesBetween(state, from, this.store.version);
      return text(upserts.length + deletes.length);
    }
    const filterText = req.query.get('$filter');
    if (filterText === null) return text(Math.min(state.rows.size, COUNT_CAP));
    const filter = parseFilter(filterText, state.def);
    let n = 0;
    for (const row of state.rows.values()) if (filter(row.values)) n++;
    return text(Math.min(n, COUNT_CAP));
  }

  // ---------------------------------------------------------------- writes

  private parseJson(req: ApiRequest): Record<string, unknown> {
    if (req.body.trim() === '') return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(req.body);
    } catch {
      throw errors.badRequest('The request body is not valid JSON.', '0x80048d19');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw errors.badRequest('The request body must be a JSON object.', '0x80048d19');
    }
    return parsed as Record<string, unknown>;
  }

  /** Resolves `/accounts(id)`, an absolute URL, or a `$n` Content-ID reference. */
  resolveReference(
    ref: string,
    contentIds?: Map<string, string>,
  ): { table: TableState; id: string } | undefined {
    let text = ref.trim();
    const cid = /^\$([A-Za-z0-9_-]+)$/.exec(text);
    if (cid) {
      const url = contentIds?.get(cid[1] as string);
      if (!url) return undefined;
      text = url;
    }
    if (text.startsWith(this.ctx.apiUrl)) text = text.slice(this.ctx.apiUrl.length);
    text = text.replace(/^https?:\/\/[^/]+\/api\/data\/v9\.\d\//, '').replace(/^\/+/, '');
    const m = /^([A-Za-z0-9_]+)\(([0-9a-fA-F-]{36})\)$/.exec(text);
    if (!m) return undefined;
    const table = this.store.tableBySet(m[1] as string);
    if (!table) return undefined;
    return { table, id: (m[2] as string).toLowerCase() };
  }

  private coerce(state: TableState, c: ColumnDef, value: unknown): unknown {
    const def = state.def;
    if (value === null) return null;
    const bad = () =>
      errors.payload(
        def.entitySetName,
        `Cannot convert the literal '${typeof value === 'object' ? JSON.stringify(value) : String(value)}' to the expected type '${edmType(c)}'.`,
      );
    switch (c.type) {
      case 'string':
      case 'memo':
        if (typeof value !== 'string') throw bad();
        if (c.maxLength !== undefined && value.length > c.maxLength)
          throw errors.tooLong(c.name, def.logicalName, c.maxLength);
        return value;
      case 'int':
        if (typeof value !== 'number' || !Number.isInteger(value)) throw bad();
        return value;
      case 'choice': {
        if (typeof value !== 'number' || !Number.isInteger(value)) throw bad();
        const accepted = (c.options ?? []).map((o) => o.value);
        if (!accepted.includes(value)) throw errors.outOfRange(c.name, def.logicalName, value, accepted);
        return value;
      }
      case 'decimal':
      case 'money':
        if (typeof value !== 'number' || !Number.isFinite(value)) throw bad();
        return value;
      case 'bool':
        if (typeof value !== 'boolean') throw bad();
        return value;
      case 'datetime': {
        if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw bad();
        return isoSeconds(Date.parse(value));
      }
      case 'dateonly':
        if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) throw bad();
        return value;
      case 'guid':
        if (typeof value !== 'string' || !GUID.test(value)) throw bad();
        return value.toLowerCase();
      case 'lookup':
        throw errors.unknownProperty(c.name, def.logicalName);
    }
  }

  /**
   * Validates a JSON body against the table. `trusted` (control API, "a Dynamics user") may also
   * set system-maintained columns such as `merged` and write lookups as `_x_value` directly.
   */
  parseBody(
    state: TableState,
    body: Record<string, unknown>,
    contentIds?: Map<string, string>,
    trusted = false,
  ): ParsedBody {
    const def = state.def;
    const out: ParsedBody = { changes: {}, targets: {} };
    for (const [key, value] of Object.entries(body)) {
      if (key.startsWith('@odata.')) continue;
      const at = key.indexOf('@');
      if (at >= 0) {
        const annotation = key.slice(at + 1);
        if (annotation !== 'odata.bind') continue;
        const nav = key.slice(0, at);
        const binding = def.navMap.get(nav);
        if (!binding) throw errors.undeclaredNavigation(nav);
        if (value === null) {
          out.changes[binding.column.name] = null;
          out.targets[binding.column.name] = undefined;
          continue;
        }
        if (typeof value !== 'string')
          throw errors.payload(def.entitySetName, `Invalid @odata.bind value for '${nav}'.`);
        const ref = this.resolveReference(value, contentIds);
        if (!ref) {
          throw errors.badRequest(
            `Invalid reference '${value}' for navigation property '${nav}': expected /<entityset>(<id>).`,
            '0x80048d19',
          );
        }
        if (!binding.targets.includes(ref.table.def.logicalName)) {
          throw errors.badRequest(
            `Navigation property '${nav}' of '${def.logicalName}' cannot reference a '${ref.table.def.logicalName}' record.`,
            '0x80048d19',
          );
        }
        if (!ref.table.rows.has(ref.id)) throw errors.notFound(ref.table.def.logicalName, ref.id);
        out.changes[binding.column.name] = ref.id;
        out.targets[binding.column.name] = ref.table.def.logicalName;
        continue;
      }
      if (key === def.primaryKey) {
        if (typeof value !== 'string' || !GUID.test(value)) {
          throw errors.payload(
            def.entitySetName,
            `Cannot convert the literal '${String(value)}' to the expected type 'Edm.Guid'.`,
          );
        }
        out.id = value.toLowerCase();
        continue;
      }
      const c = def.columnMap.get(key);
      if (!c) throw errors.unknownProperty(key, def.logicalName);
      if (c.type === 'lookup') {
        if (!trusted) throw errors.unknownProperty(key, def.logicalName);
        if (value === null) {
          out.changes[c.name] = null;
          out.targets[c.name] = undefined;
          continue;
        }
        const id = String(value).toLowerCase();
        const target =
          (c.targets ?? []).find((t) => this.store.table(t)?.rows.has(id)) ?? (c.targets ?? [])[0];
        out.changes[c.name] = id;
        out.targets[c.name] = target;
        continue;
      }
      if (c.readOnly && !(trusted && !['createdon', 'modifiedon', 'versionnumber'].includes(c.name)))
        continue;
      out.changes[c.name] = this.coerce(state, c, value);
    }
    return out;
  }

  /** Derived columns and state/status consistency, as the platform enforces them. */
  private normalise(state: TableState, existing: Row | undefined, parsed: ParsedBody, userId: string): void {
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

  private assertWritable(
    state: TableState,
    existing: Row | undefined,
    parsed: ParsedBody,
    method: 'Create' | 'Update',
  ): void {
    if (state.def.apiReadOnly) throw errors.methodNotSupported(method, state.def.logicalName);
    if (state.def.logicalName === 'lead' && existing && existing.values.statecode !== 0) {
      // A closed lead can only be reopened.
      if (parsed.changes.statecode !== 0) throw errors.readOnlyRecord('lead');
    }
  }

  /** Shared by the API and the control API: applies a validated body as the given user. */
  writeRow(state: TableState, id: string, parsed: ParsedBody, userId: string) {
    const existing = state.rows.get(id);
    this.normalise(state, existing, parsed, userId);
    return this.store.write(state, id, parsed.changes, parsed.targets, userId);
  }

  private entityUrl(state: TableState, id: string): string {
    return `${this.ctx.apiUrl}${state.def.entitySetName}(${id})`;
  }

  private writeResponse(
    state: TableState,
    row: Row,
    created: boolean,
    req: ApiRequest,
    updateStatus = 200,
  ): ApiResponse {
    const prefer = parsePrefer(req.headers.prefer);
    const location = this.entityUrl(state, row.id);
    if (prefer.returnRepresentation) {
      const select = req.query.has('$select')
        ? parseSelect(req.query.get('$select') ?? '', state.def)
        : undefined;
      return json(
        created ? 201 : updateStatus,
        {
          '@odata.context': this.context(state, select, '/$entity'),
          ...this.project(state, row, select, this.annotate(prefer)),
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

  private create(state: TableState, req: ApiRequest): ApiResponse {
    if (state.def.apiReadOnly) throw errors.methodNotSupported('Create', state.def.logicalName);
    this.ctx.privileges.assert(state.def.logicalName, 'create', req.userId);
    const parsed = this.parseBody(state, this.parseJson(req), req.contentIds);
    const id = parsed.id ?? randomUUID();
    if (state.rows.has(id)) throw errors.duplicateKey();
    const { row } = this.writeRow(state, id, parsed, req.userId);
    return this.writeResponse(state, row, true, req);
  }

  private checkIfMatch(
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

  private upsert(state: TableState, id: string, req: ApiRequest): ApiResponse {
    const existing = state.rows.get(id);
    this.checkIfMatch(state, id, existing, req.headers['if-match']);
    if (req.headers['if-none-match']?.trim() === '*' && existing) throw errors.duplicateKey();
    const parsed = this.parseBody(state, this.parseJson(req), req.contentIds);
    if (parsed.id !== undefined && parsed.id !== id) {
      throw errors.badRequest(
        `The value of '${state.def.primaryKey}' in the body does not match the key in the URL.`,
        '0x80048d19',
      );
    }
    this.assertWritable(state, existing, parsed, existing ? 'Update' : 'Create');
    this.ctx.privileges.assert(state.def.logicalName, existing ? 'write' : 'create', req.userId);
    const { row, created } = this.writeRow(state, id, parsed, req.userId);
    return this.writeResponse(state, row, created, req);
  }

  private remove(state: TableState, id: string, req: ApiRequest): ApiResponse {
    if (state.def.apiReadOnly) throw errors.methodNotSupported('Delete', state.def.logicalName);
    const existing = state.rows.get(id);
    if (!existing) throw errors.notFound(state.def.logicalName, id);
    this.checkIfMatch(state, id, existing, req.headers['if-match']);
    this.ctx.privileges.assert(state.def.logicalName, 'delete', req.userId);
    this.store.delete(state, id);
    return noContent(204);
  }

  // ---------------------------------------------------------------- actions

  qualify(
    leadId: string,
    opts: { createAccount: boolean; createContact: boolean; createOpportunity: boolean; status?: number },
    userId: string,
  ): { table: string; id: string }[] {
    const leads = this.store.table('lead') as TableState;
    const lead = leads.rows.get(leadId);
    if (!lead) throw errors.notFound('lead', leadId);
    if (lead.values.statecode !== 0) throw errors.leadClosed();
    const status = opts.status ?? 3;
    if (status !== 3) throw errors.outOfRange('statuscode', 'lead', status, [3]);
    return this.store.atomically(() => {
      const created: { table: string; id: string }[] = [];
      const v = lead.values;
      const owner = { _ownerid_value: v._ownerid_value };
      const ownerTarget = { _ownerid_value: lead.targets._ownerid_value };
      let accountId: string | undefined;
      let contactId: string | undefined;
      if (opts.createAccount) {
        const t = this.store.table('account') as TableState;
        accountId = randomUUID();
        this.writeRow(
          t,
          accountId,
          {
            changes: {
              name: v.companyname ?? v.fullname,
              telephone1: v.telephone1 ?? null,
              industrycode: v.industrycode ?? null,
              new_synctomkto: v.new_synctomkto ?? null,
              ...owner,
            },
            targets: { ...ownerTarget },
          },
          userId,
        );
        created.push({ table: 'account', id: accountId });
      }
      if (opts.createContact) {
        const t = this.store.table('contact') as TableState;
        contactId = randomUUID();
        this.writeRow(
          t,
          contactId,
          {
            changes: {
              firstname: v.firstname ?? null,
              lastname: v.lastname ?? null,
              emailaddress1: v.emailaddress1 ?? null,
              jobtitle: v.jobtitle ?? null,
              telephone1: v.telephone1 ?? null,
              new_synctomkto: v.new_synctomkto ?? null,
              _originatingleadid_value: leadId,
              ...(accountId ? { _parentcustomerid_value: accountId } : {}),
              ...owner,
            },
            targets: {
              _originatingleadid_value: 'lead',
              ...(accountId ? { _parentcustomerid_value: 'account' } : {}),
              ...ownerTarget,
            },
          },
          userId,
        );
        created.push({ table: 'contact', id: contactId });
      }
      if (opts.createOpportunity) {
        const t = this.store.table('opportunity') as TableState;
        const customerId = accountId ?? contactId;
        if (!customerId) {
          throw errors.badRequest(
            'An opportunity can only be created with an account or a contact customer.',
            '0x80040203',
          );
        }
        const id = randomUUID();
        this.writeRow(
          t,
          id,
          {
            changes: {
              name: v.subject ?? v.fullname,
              _customerid_value: customerId,
              _parentaccountid_value: accountId ?? null,
              _parentcontactid_value: contactId ?? null,
              _originatingleadid_value: leadId,
              ...owner,
            },
            targets: {
              _customerid_value: accountId ? 'account' : 'contact',
              _parentaccountid_value: accountId ? 'account' : undefined,
              _parentcontactid_value: contactId ? 'contact' : undefined,
              _originatingleadid_value: 'lead',
              ...ownerTarget,
            },
          },
          userId,
        );
        created.push({ table: 'opportunity', id });
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
      this.writeRow(leads, leadId, { changes: leadChanges, targets: leadTargets }, userId);
      return created;
    });
  }

  private qualifyLead(req: ApiRequest, leadId: string): ApiResponse {
    const body = this.parseJson(req);
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
    const created = this.qualify(
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
      '@odata.context': `${this.ctx.apiUrl}$metadata#Collection(Microsoft.Dynamics.CRM.crmbaseentity)`,
      value: created.map(({ table, id }) => {
        const t = this.store.table(table) as TableState;
        return { '@odata.type': `#Microsoft.Dynamics.CRM.${table}`, [t.def.primaryKey]: id };
      }),
    });
  }

  /**
   * Merge as the platform does it: UpdateContent goes to the target, the subordinate is
   * deactivated with merged=true and masterid=target, and child rows are re-parented.
   */
  mergeRows(
    table: string,
    targetId: string,
    subordinateId: string,
    updateContent: Record<string, unknown>,
    userId: string,
    contentIds?: Map<string, string>,
  ): void {
    const state = this.store.table(table);
    if (!state || !['account', 'contact', 'lead'].includes(table)) {
      throw errors.badRequest(`Merge is not supported for entity type '${table}'.`, '0x80040203');
    }
    const target = state.rows.get(targetId);
    if (!target) throw errors.notFound(table, targetId);
    const sub = state.rows.get(subordinateId);
    if (!sub) throw errors.notFound(table, subordinateId);
    if (targetId === subordinateId)
      throw errors.badRequest('Cannot merge a record with itself.', '0x80040203');
    if (sub.values.merged === true)
      throw errors.badRequest('The subordinate record has already been merged.', '0x80040203');
    const update = this.parseBody(state, updateContent, contentIds);
    this.store.atomically(() => {
      if (Object.keys(update.changes).length > 0) this.writeRow(state, targetId, update, userId);
      const inactive = table === 'lead' ? { statecode: 2, statuscode: 7 } : { statecode: 1, statuscode: 2 };
      this.store.write(
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
      for (const other of this.store.allTables()) {
        const cols = reparent.filter((c) => other.def.columnMap.has(c));
        if (cols.length === 0) continue;
        for (const row of [...other.rows.values()]) {
          const changes: Record<string, unknown> = {};
          for (const c of cols)
            if (row.values[c] === subordinateId && row.targets[c] === table) changes[c] = targetId;
          if (Object.keys(changes).length > 0 && !(other === state && row.id === subordinateId)) {
            this.store.write(other, row.id, changes, {}, userId);
          }
        }
      }
    });
  }

  private merge(req: ApiRequest): ApiResponse {
    const body = this.parseJson(req);
    const ref = (name: string): { table: string; id: string } => {
      const v = body[name];
      if (typeof v !== 'object' || v === null)
        throw errors.badRequest(`Parameter '${name}' is required.`, '0x80040203');
      const o = v as Record<string, unknown>;
      const type = String(o['@odata.type'] ?? '').replace(/^#?Microsoft\.Dynamics\.CRM\./, '');
      const state = this.store.table(type);
      if (!state) throw errors.badRequest(`Parameter '${name}' must have a valid @odata.type.`, '0x80040203');
      const id = o[state.def.primaryKey];
      if (typeof id !== 'string' || !GUID.test(id))
        throw errors.badRequest(`Parameter '${name}' has no ${state.def.primaryKey}.`, '0x80040203');
      return { table: type, id: id.toLowerCase() };
    };
    const target = ref('Target');
    const sub = ref('Subordinate');
    if (target.table !== sub.table)
      throw errors.badRequest('Target and Subordinate must be of the same entity type.', '0x80040203');
    const content = (
      typeof body.UpdateContent === 'object' && body.UpdateContent !== null ? body.UpdateContent : {}
    ) as Record<string, unknown>;
    const pk = this.store.table(target.table)?.def.primaryKey ?? '';
    const { [pk]: _ignored, ...rest } = content;
    this.mergeRows(target.table, target.id, sub.id, rest, req.userId, req.contentIds);
    return noContent(204);
  }

  private entityDefinitions(key: string | undefined, attributes: boolean, req: ApiRequest): ApiResponse {
    const describe = (t: TableState) => ({
      MetadataId: t.def.logicalName,
      LogicalName: t.def.logicalName,
      EntitySetName: t.def.entitySetName,
      PrimaryIdAttribute: t.def.primaryKey,
      PrimaryNameAttribute: t.def.primaryName,
      ChangeTrackingEnabled: t.tracked,
      IsCustomEntity: t.def.logicalName.includes('_'),
    });
    const pick = (o: Record<string, unknown>): Record<string, unknown> => {
      const select = req.query.get('$select');
      if (!select) return o;
      const names = select.split(',').map((s) => s.trim());
      return Object.fromEntries(Object.entries(o).filter(([k]) => names.includes(k)));
    };
    if (key === undefined) {
      return json(200, {
        '@odata.context': `${this.ctx.apiUrl}$metadata#EntityDefinitions`,
        value: this.store.allTables().map((t) => pick(describe(t))),
      });
    }
    const m = /^(?:LogicalName=)?'([^']+)'$/.exec(key.trim());
    const state = m ? this.store.table(m[1] as string) : undefined;
    if (!state) throw errors.resourceNotFound(`EntityDefinitions(${key})`);
    if (attributes) {
      return json(200, {
        '@odata.context': `${this.ctx.apiUrl}$metadata#EntityDefinitions('${state.def.logicalName}')/Attributes`,
        value: state.def.columns.map((c) =>
          pick({
            LogicalName: c.attribute,
            AttributeType: {
              string: 'String',
              memo: 'Memo',
              int: 'Integer',
              decimal: 'Decimal',
              money: 'Money',
              bool: 'Boolean',
              datetime: 'DateTime',
              dateonly: 'DateTime',
              choice: c.name === 'statecode' ? 'State' : c.name === 'statuscode' ? 'Status' : 'Picklist',
              lookup:
                c.attribute === 'ownerid' ? 'Owner' : (c.targets?.length ?? 0) > 1 ? 'Customer' : 'Lookup',
              guid: c.name === state.def.primaryKey ? 'Uniqueidentifier' : 'Uniqueidentifier',
            }[c.type],
            IsValidForRead: true,
            IsValidForUpdate: !c.readOnly,
            ...(c.targets ? { Targets: c.targets } : {}),
          }),
        ),
      });
    }
    return json(200, {
      '@odata.context': `${this.ctx.apiUrl}$metadata#EntityDefinitions/$entity`,
      ...pick(describe(state)),
    });
  }
}
