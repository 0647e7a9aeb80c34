import { privilegeSchema, type Privilege, type PrivilegeRules } from './privilege.rules';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { DataStore, TableState } from './data.store';
import {
  faultConfigSchema,
  failNextSchema,
  type FailNextSpec,
  type FaultConfig,
  type FaultInjector,
} from './fault.injector';
import {
  findColumn,
  withColumn,
  withoutColumn,
  type ChoiceOption,
  type ColumnDef,
  type TableDef,
} from './schema.catalog';
import { limitsSchema, type SimulatorLimits } from './simulator.options';
import { DataverseSimulatorError, errors } from './simulator.errors';
import type { ThrottleLimiter } from './throttle.limiter';
import type { RequestLogEntry, TrafficCounters, TrafficRecorder } from './traffic.counters';
import { addListMembers, removeListMember } from './marketing-list.handler';
import type { WebApi } from './web-api.handler';
import { deleteRow } from './write.handler';
import { GUID } from './web-api.protocol';

export type SimRow = Record<string, unknown>;

export interface WriteAs {
  /** Acting systemuser; defaults to the first enabled seeded user ("a Dynamics user"). */
  userId?: string;
}

export interface QualifyOptions {
  createAccount?: boolean;
  createContact?: boolean;
  createOpportunity?: boolean;
}

/** Test and demo hooks. Writes go through the same store as the API, so they feed change tracking. */
export interface SimulatorControl {
  createRow(table: string, values: SimRow, opts?: WriteAs & { id?: string }): SimRow;
  updateRow(table: string, id: string, values: SimRow, opts?: WriteAs): SimRow;
  /** Deletes a row with what cascades from it (list memberships, connections). */
  deleteRow(table: string, id: string): boolean;
  getRow(table: string, id: string): SimRow | undefined;
  /**
   * Calls `listener` as each write commits, with the row's stored values (not a copy: read them,
   * never change them). A benchmark times a write's arrival with it instead of polling rows. The
   * returned function stops the calls.
   */
  onRowWritten(
    listener: (table: string, id: string, values: Readonly<Record<string, unknown>>) => void,
  ): () => void;
  listRows(table: string, opts?: { limit?: number; offset?: number }): SimRow[];
  count(table: string): number;
  merge(table: string, targetId: string, subordinateId: string, updateContent?: SimRow, opts?: WriteAs): void;
  qualify(leadId: string, opts?: QualifyOptions & WriteAs): { table: string; id: string }[];
  expireDeltaTokens(table?: string): void;
  setChangeTracking(table: string, enabled: boolean): void;
  /**
   * Deletes a column as a customizer would: the metadata, `$select`, `$filter` and writes no longer
   * know it (0x80060888), and rows are served without it. `column` is the attribute or read name.
   */
  deleteColumn(table: string, column: string): void;
  /** Adds an option to a choice or multi-select choice column (a value the sync has no label for). */
  addOption(table: string, column: string, option: ChoiceOption): void;
  /** Adds rows to a static marketing list as a Dynamics user; returns their listmember ids. */
  addListMembers(listId: string, entityIds: string[], opts?: WriteAs): string[];
  removeListMember(listId: string, entityId: string, opts?: WriteAs): void;
  /** The organisation id WhoAmI answers. */
  organizationId(): string;
  /** Gives the organisation another id, as a sandbox copy or refresh does. */
  setOrganizationId(id: string): void;
  setFaults(config: FaultConfig): void;
  clearFaults(): void;
  failNext(spec: FailNextSpec): void;
  setLimits(limits: Partial<SimulatorLimits>): SimulatorLimits;
  counters(): { total: TrafficCounters; clients: Record<string, TrafficCounters> };
  resetCounters(): void;
  requestLog(): RequestLogEntry[];
  now(): number;
  setClock(ms: number): void;
  advanceClock(ms: number): void;
  /** Revokes every issued access token (callers get 401 until they fetch a new one). */
  revokeTokens(): void;
  /** Takes a privilege on a table away from the application users (403 0x80040220 on the API). */
  denyPrivilege(table: string, privilege: Privilege): void;
  clearPrivileges(): void;
  /** Current organisation-wide version number. */
  version(): number;
  /** systemuserid of the application user of a client (the caller as Dataverse sees it). */
  appUserId(clientId?: string): string;
  defaultUserId(): string;
}

export interface ControlDeps {
  privileges: PrivilegeRules;
  store: DataStore;
  api: WebApi;
  faults: FaultInjector;
  limiter: ThrottleLimiter;
  recorder: TrafficRecorder;
  clock: { now: () => number; set: (ms: number) => void; advance: (ms: number) => void };
  humanUserId: string;
  appUsers: Map<string, string>;
  defaultClientId: string;
  revokeTokens: () => void;
}

const LLN = 'Microsoft.Dynamics.CRM.lookuplogicalname';

export const createControl = (d: ControlDeps): SimulatorControl => {
  const table = (name: string): TableState => {
    const t = d.store.resolve(name);
    if (!t) throw errors.resourceNotFound(name);
    return t;
  };
  const view = (t: TableState, id: string): SimRow | undefined => {
    const row = t.rows.get(id.toLowerCase());
    return row ? d.api.project(t, row, undefined, (term) => term === LLN) : undefined;
  };
  const write = (
    name: string,
    id: string,
    values: SimRow,
    userId: string | undefined,
    mustExist: boolean | undefined,
  ) => {
    const t = table(name);
    const key = id.toLowerCase();
    const exists = t.rows.has(key);
    if (mustExist === true && !exists) throw errors.notFound(t.def.logicalName, key);
    if (mustExist === false && exists) throw errors.duplicateKey();
    const parsed = d.api.parseBody(t, values, undefined, true);
    d.api.writeRow(t, key, parsed, userId ?? d.humanUserId);
    return view(t, key) as SimRow;
  };
  return {
    createRow: (name, values, opts) => {
      const t = table(name);
      const given = values[t.def.primaryKey];
      const id = opts?.id ?? (typeof given === 'string' ? given : randomUUID());
      return write(name, id, values, opts?.userId, false);
    },
    updateRow: (name, id, values, opts) => write(name, id, values, opts?.userId, true),
    deleteRow: (name, id) => deleteRow(d.store, table(name), id, d.humanUserId),
    getRow: (name, id) => view(table(name), id),
    onRowWritten: (listener) =>
      d.store.subscribe((event) => {
        if (event.kind === 'write') listener(event.table, event.id, event.row.values);
      }),
    listRows: (name, opts) => {
      const t = table(name);
      const offset = opts?.offset ?? 0;
      const ids = t.sortedIds.slice(offset, opts?.limit !== undefined ? offset + opts.limit : undefined);
      return ids.map((id) => view(t, id) as SimRow);
    },
    count: (name) => table(name).rows.size,
    merge: (name, targetId, subordinateId, updateContent, opts) =>
      d.api.mergeRows(
        table(name).def.logicalName,
        targetId.toLowerCase(),
        subordinateId.toLowerCase(),
        updateContent ?? {},
        opts?.userId ?? d.humanUserId,
      ),
    qualify: (leadId, opts) =>
      d.api.qualify(
        leadId.toLowerCase(),
        {
          createAccount: opts?.createAccount ?? true,
          createContact: opts?.createContact ?? true,
          createOpportunity: opts?.createOpportunity ?? false,
        },
        opts?.userId ?? d.humanUserId,
      ),
    expireDeltaTokens: (name) => {
      for (const t of name ? [table(name)] : d.store.allTables()) t.tokenEpoch++;
    },
    setChangeTracking: (name, enabled) => {
      table(name).tracked = enabled;
    },
    deleteColumn: (name, column) => {
      const t = table(name);
      t.def = withoutColumn(t.def, customizable(t.def, column));
    },
    addOption: (name, column, option) => {
      const t = table(name);
      const c = customizable(t.def, column);
      if (c.type !== 'choice' && c.type !== 'multichoice')
        throw errors.badRequest(`'${c.attribute}' is not a choice column.`);
      if ((c.options ?? []).some((o) => o.value === option.value))
        throw errors.badRequest(`'${c.attribute}' already has an option ${option.value}.`);
      t.def = withColumn(t.def, c, { ...c, options: [...(c.options ?? []), option] });
    },
    addListMembers: (listId, entityIds, opts) =>
      d.api.withContext(
        addListMembers,
        listId.toLowerCase(),
        entityIds.map((id) => ({ id: id.toLowerCase() })),
        opts?.userId ?? d.humanUserId,
      ),
    removeListMember: (listId, entityId, opts) =>
      d.api.withContext(
        removeListMember,
        listId.toLowerCase(),
        entityId.toLowerCase(),
        opts?.userId ?? d.humanUserId,
      ),
    organizationId: () => d.api.organizationId,
    setOrganizationId: (id) => {
      if (!GUID.test(id)) throw errors.badRequest(`'${id}' is not a GUID.`);
      d.api.organizationId = id.toLowerCase();
    },
    setFaults: (config) => d.faults.setFaults(config),
    clearFaults: () => d.faults.clearFaults(),
    failNext: (spec) => d.faults.failNext(spec),
    setLimits: (partial) => {
      const next = limitsSchema.parse({ ...d.limiter.getLimits(), ...partial });
      d.limiter.setLimits(next);
      return next;
    },
    counters: () => d.recorder.counters(),
    resetCounters: () => {
      d.recorder.reset();
      d.limiter.reset();
    },
    requestLog: () => d.recorder.requestLog(),
    now: () => d.clock.now(),
    setClock: (ms) => d.clock.set(ms),
    advanceClock: (ms) => d.clock.advance(ms),
    revokeTokens: () => d.revokeTokens(),
    denyPrivilege: (name, privilege) => d.privileges.deny(table(name).def, privilegeSchema.parse(privilege)),
    clearPrivileges: () => d.privileges.clear(),
    version: () => d.store.version,
    appUserId: (clientId) => {
      const id = d.appUsers.get(clientId ?? d.defaultClientId);
      if (!id) throw errors.badRequest(`Unknown client '${clientId ?? ''}'.`);
      return id;
    },
    defaultUserId: () => d.humanUserId,
  };
};

/**
 * A column a customizer may change. The key, the primary name and the columns the platform itself
 * maintains (state, status, owner, audit, version) stay: deleting them would not model anything.
 */
const customizable = (def: TableDef, name: string): ColumnDef => {
  const c = findColumn(def, name);
  if (!c) throw errors.unknownProperty(name, def.logicalName);
  const system =
    c.name === def.primaryKey ||
    c.name === def.primaryName ||
    ['State', 'Status', 'Owner', 'BigInt'].includes(c.attributeType ?? '') ||
    ['createdon', 'modifiedon', 'createdby', 'modifiedby'].includes(c.attribute);
  if (system)
    throw errors.badRequest(
      `The column '${c.attribute}' of '${def.logicalName}' is maintained by the platform.`,
    );
  return c;
};

// ------------------------------------------------------------------ HTTP routes under /_sim/

const rowBody = z.record(z.string(), z.unknown());
const writeBody = z.object({
  values: rowBody.optional(),
  userId: z.string().optional(),
  id: z.string().optional(),
});
const mergeBody = z.object({
  table: z.string(),
  targetId: z.string(),
  subordinateId: z.string(),
  updateContent: rowBody.optional(),
  userId: z.string().optional(),
});
const qualifyBody = z.object({
  leadId: z.string(),
  createAccount: z.boolean().optional(),
  createContact: z.boolean().optional(),
  createOpportunity: z.boolean().optional(),
  userId: z.string().optional(),
});
const clockBody = z.object({
  now: z.union([z.number(), z.string()]).optional(),
  advanceMs: z.number().optional(),
});
const expireBody = z.object({ table: z.string().optional() });
const trackingBody = z.object({ enabled: z.boolean() });
const optionBody = z.object({ value: z.number().int(), label: z.string().min(1) });
const organizationBody = z.object({ organizationId: z.string() });
const membersBody = z.object({ entityIds: z.array(z.string()).min(1), userId: z.string().optional() });

export interface ControlHttpResult {
  status: number;
  body: unknown;
}

export interface ControlInfo {
  url: string;
  apiUrl: string;
  tenantId: string;
  tokenEndpoint: string;
  authorityMetadata: string;
}

export const handleControlHttp = (
  control: SimulatorControl,
  info: ControlInfo,
  store: DataStore,
  method: string,
  path: string,
  query: URLSearchParams,
  rawBody: string,
): ControlHttpResult => {
  const ok = (body: unknown = { ok: true }): ControlHttpResult => ({ status: 200, body });
  try {
    const body: unknown = rawBody.trim() === '' ? {} : JSON.parse(rawBody);
    const route = `${method} ${path.replace(/\/+$/, '')}`;
    let m: RegExpExecArray | null;
    if (route === 'GET /_sim' || route === 'GET /_sim/health') {
      return ok({
        ok: true,
        ...info,
        version: control.version(),
        now: new Date(control.now()).toISOString(),
      });
    }
    if (route === 'GET /_sim/counters') return ok(control.counters());
    if (route === 'POST /_sim/counters/reset') return (control.resetCounters(), ok());
    if (route === 'GET /_sim/requests') {
      const limit = Number(query.get('limit') ?? '1000');
      return ok(control.requestLog().slice(-limit));
    }
    if (route === 'POST /_sim/faults' || route === 'PUT /_sim/faults')
      return (control.setFaults(faultConfigSchema.parse(body)), ok());
    if (route === 'DELETE /_sim/faults') return (control.clearFaults(), ok());
    if (route === 'POST /_sim/faults/fail-next') return (control.failNext(failNextSchema.parse(body)), ok());
    if (route === 'POST /_sim/limits') return ok(control.setLimits(limitsSchema.partial().parse(body)));
    if (route === 'POST /_sim/delta-tokens/expire') {
      const { table } = expireBody.parse(body);
      control.expireDeltaTokens(table);
      return ok();
    }
    if (route === 'GET /_sim/clock')
      return ok({ now: control.now(), iso: new Date(control.now()).toISOString() });
    if (route === 'POST /_sim/clock') {
      const c = clockBody.parse(body);
      if (c.now !== undefined) control.setClock(typeof c.now === 'number' ? c.now : Date.parse(c.now));
      if (c.advanceMs !== undefined) control.advanceClock(c.advanceMs);
      return ok({ now: control.now(), iso: new Date(control.now()).toISOString() });
    }
    if (route === 'POST /_sim/tokens/revoke') return (control.revokeTokens(), ok());
    if (route === 'POST /_sim/privileges/deny') {
      const rule = z.object({ table: z.string(), privilege: privilegeSchema }).parse(body);
      return (control.denyPrivilege(rule.table, rule.privilege), ok());
    }
    if (route === 'DELETE /_sim/privileges') return (control.clearPrivileges(), ok());
    if (route === 'GET /_sim/organization') return ok({ organizationId: control.organizationId() });
    if (route === 'POST /_sim/organization') {
      control.setOrganizationId(organizationBody.parse(body).organizationId);
      return ok({ organizationId: control.organizationId() });
    }
    if ((m = /^DELETE \/_sim\/tables\/([^/]+)\/columns\/([^/]+)$/.exec(route)))
      return (control.deleteColumn(m[1] as string, m[2] as string), ok());
    if ((m = /^POST \/_sim\/tables\/([^/]+)\/columns\/([^/]+)\/options$/.exec(route)))
      return (control.addOption(m[1] as string, m[2] as string, optionBody.parse(body)), ok());
    if ((m = /^POST \/_sim\/lists\/([^/]+)\/members$/.exec(route))) {
      const b = membersBody.parse(body);
      return ok({
        ids: control.addListMembers(m[1] as string, b.entityIds, b.userId ? { userId: b.userId } : {}),
      });
    }
    if ((m = /^DELETE \/_sim\/lists\/([^/]+)\/members\/([^/]+)$/.exec(route)))
      return (control.removeListMember(m[1] as string, m[2] as string), ok());
    if (route === 'GET /_sim/authority-metadata') return ok(JSON.parse(info.authorityMetadata));
    if (route === 'GET /_sim/tables') {
      return ok(
        store.allTables().map((t) => ({
          logicalName: t.def.logicalName,
          entitySetName: t.def.entitySetName,
          primaryKey: t.def.primaryKey,
          count: t.rows.size,
          changeTracking: t.tracked,
        })),
      );
    }
    if ((m = /^POST \/_sim\/merge$/.exec(route))) {
      const b = mergeBody.parse(body);
      control.merge(
        b.table,
        b.targetId,
        b.subordinateId,
        b.updateContent,
        b.userId ? { userId: b.userId } : {},
      );
      return ok();
    }
    if ((m = /^POST \/_sim\/qualify$/.exec(route))) {
      const b = qualifyBody.parse(body);
      const { leadId, ...opts } = b;
      return ok({ created: control.qualify(leadId, opts) });
    }
    if ((m = /^POST \/_sim\/tables\/([^/]+)\/change-tracking$/.exec(route))) {
      control.setChangeTracking(m[1] as string, trackingBody.parse(body).enabled);
      return ok();
    }
    if ((m = /^GET \/_sim\/tables\/([^/]+)\/count$/.exec(route)))
      return ok({ count: control.count(m[1] as string) });
    if ((m = /^GET \/_sim\/tables\/([^/]+)\/rows$/.exec(route))) {
      const limit = query.get('limit');
      const offset = query.get('offset');
      return ok(
        control.listRows(m[1] as string, {
          limit: limit === null ? 100 : Number(limit),
          ...(offset !== null ? { offset: Number(offset) } : {}),
        }),
      );
    }
    if ((m = /^POST \/_sim\/tables\/([^/]+)\/rows$/.exec(route))) {
      const b = writeBody.parse(body);
      const opts = { ...(b.userId ? { userId: b.userId } : {}), ...(b.id ? { id: b.id } : {}) };
      return { status: 201, body: control.createRow(m[1] as string, b.values ?? {}, opts) };
    }
    if ((m = /^(GET|PATCH|DELETE) \/_sim\/tables\/([^/]+)\/rows\/([^/]+)$/.exec(route))) {
      const [, verb, t, id] = m as unknown as [string, string, string, string];
      if (verb === 'GET') {
        const row = control.getRow(t, id);
        return row ? ok(row) : { status: 404, body: { error: 'not found' } };
      }
      if (verb === 'DELETE')
        return control.deleteRow(t, id) ? ok() : { status: 404, body: { error: 'not found' } };
      const b = writeBody.parse(body);
      return ok(control.updateRow(t, id, b.values ?? {}, b.userId ? { userId: b.userId } : {}));
    }
    return { status: 404, body: { error: `no control route ${route}` } };
  } catch (err) {
    if (err instanceof DataverseSimulatorError) return { status: err.status, body: JSON.parse(err.body()) };
    if (err instanceof z.ZodError)
      return { status: 400, body: { error: 'invalid body', issues: err.issues } };
    if (err instanceof SyntaxError) return { status: 400, body: { error: 'invalid JSON' } };
    throw err;
  }
};
