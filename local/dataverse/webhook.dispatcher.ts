// The asynchronous service's share of the event pipeline: when a registered step's message happens
// on its table, the execution context is posted to the step's webhook endpoint after a delay, and
// posted again on failure, as Dataverse's asynchronous service does with its system jobs.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { DataStore, Row, StoreEvent } from './data.store';
import {
  AUTH_HTTP_HEADER,
  AUTH_HTTP_QUERY_STRING,
  AUTH_WEBHOOK_KEY,
  CONTRACT_WEBHOOK,
} from './registration.tables';

export const webhookOptionsSchema = z.object({
  /** Time from the change to the first post: the asynchronous service's queueing delay. */
  delayMs: z.number().min(0).default(1000),
  /** Waits before each further attempt after a failed post; attempts end when the list does. */
  retryDelaysMs: z.array(z.number().min(0)).default([1000, 5000, 15000, 60000]),
  /** A post the receiver has not answered by then counts as failed. */
  timeoutMs: z.number().positive().default(10_000),
});
export type WebhookOptions = z.output<typeof webhookOptionsSchema>;

export interface WebhookDelivery {
  id: string;
  stepId: string;
  message: string;
  table: string;
  rowId: string;
  /** When the change happened (simulator clock, ms). */
  changedAt: number;
  attempts: number;
  status: 'pending' | 'delivered' | 'failed';
  /** HTTP status of the last attempt, 0 when the receiver could not be reached. */
  lastStatus: number | undefined;
}

export interface WebhookDispatcherDeps {
  store: DataStore;
  now: () => number;
  organizationId: () => string;
  organizationName: string;
  businessUnitId: string;
  options: WebhookOptions;
}

const REGISTRATION = new Set([
  'serviceendpoint',
  'sdkmessage',
  'sdkmessagefilter',
  'sdkmessageprocessingstep',
]);
/** Columns every write changes: they never make an Update match a step's filtering attributes. */
const ALWAYS_CHANGED = new Set(['versionnumber', 'modifiedon', '_modifiedby_value', 'modifiedby']);
const MAX_KEPT = 10_000;
const CONTRACTS = 'http://schemas.microsoft.com/xrm/2011/Contracts';

const wcfDate = (ms: number): string => `/Date(${ms})/`;
const entityReference = (table: string, id: string) => ({
  __type: `EntityReference:${CONTRACTS}`,
  Id: id,
  KeyAttributes: [],
  LogicalName: table,
  Name: null,
  RowVersion: null,
});

/** The messages a committed change fires, as Dataverse's pipeline names them. */
export function messagesOf(event: StoreEvent): string[] {
  if (event.kind === 'message') return [event.message];
  if (event.kind === 'delete') return ['Delete'];
  if (event.previous === undefined) return ['Create'];
  const out = ['Update'];
  const before = event.previous.values;
  const after = event.row.values;
  if (before._ownerid_value !== after._ownerid_value) out.push('Assign');
  if (before.statecode !== after.statecode) out.push('SetState', 'SetStateDynamicEntity');
  return out;
}

/** Attribute names (lookups by attribute, not read name) an update changed. */
function changedAttributes(previous: Row, row: Row): Set<string> {
  const out = new Set<string>();
  for (const [name, value] of Object.entries(row.values)) {
    if (ALWAYS_CHANGED.has(name) || previous.values[name] === value) continue;
    const lookup = /^_(.+)_value$/.exec(name);
    out.add(lookup ? (lookup[1] as string) : name);
  }
  return out;
}

/** `<settings><setting name="x" value="y" /></settings>`: the authvalue of HttpHeader and HttpQueryString. */
export function parseSettings(authvalue: string): [string, string][] {
  const out: [string, string][] = [];
  const unescape = (s: string) =>
    s
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  for (const m of authvalue.matchAll(/<setting\s+name="([^"]*)"\s+value="([^"]*)"\s*\/>/g))
    out.push([unescape(m[1] as string), unescape(m[2] as string)]);
  return out;
}

interface Step {
  id: string;
  message: string;
  /** Undefined: every table. */
  table: string | undefined;
  filtering: Set<string> | undefined;
  endpoint: Row;
  mode: number;
  stage: number;
  name: string;
}

export class WebhookDispatcher {
  private enabled = true;
  private dropped = 0;
  private readonly deliveries: WebhookDelivery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly aborts = new Set<AbortController>();
  private closed = false;

  constructor(private readonly deps: WebhookDispatcherDeps) {
    deps.store.subscribe((event) => this.onEvent(event));
  }

  /** Off: changes are still made, their notifications are lost (a receiver the service gave up on). */
  configure(settings: { enabled?: boolean; delayMs?: number }): void {
    if (settings.enabled !== undefined) this.enabled = settings.enabled;
    if (settings.delayMs !== undefined) this.deps.options.delayMs = settings.delayMs;
  }

  report(limit = 100): {
    enabled: boolean;
    delayMs: number;
    dropped: number;
    counts: Record<WebhookDelivery['status'], number>;
    deliveries: WebhookDelivery[];
  } {
    const counts = { pending: 0, delivered: 0, failed: 0 };
    for (const d of this.deliveries) counts[d.status] += 1;
    return {
      enabled: this.enabled,
      delayMs: this.deps.options.delayMs,
      dropped: this.dropped,
      counts,
      deliveries: this.deliveries.slice(-limit),
    };
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const abort of this.aborts) abort.abort();
    this.aborts.clear();
  }

  private steps(): Step[] {
    const store = this.deps.store;
    const rows = store.table('sdkmessageprocessingstep')?.rows;
    if (rows === undefined || rows.size === 0) return [];
    const out: Step[] = [];
    for (const step of rows.values()) {
      const v = step.values;
      if (v.statecode !== 0) continue;
      const message = store.get('sdkmessage', String(v._sdkmessageid_value ?? ''))?.values.name;
      const endpoint = store.get('serviceendpoint', String(v._eventhandler_value ?? ''));
      if (typeof message !== 'string' || endpoint === undefined) continue;
      const filterId = v._sdkmessagefilterid_value;
      const filter = typeof filterId === 'string' ? store.get('sdkmessagefilter', filterId) : undefined;
      if (typeof filterId === 'string' && filter === undefined) continue;
      const attrs = typeof v.filteringattributes === 'string' ? v.filteringattributes.trim() : '';
      out.push({
        id: step.id,
        message,
        table: filter === undefined ? undefined : String(filter.values.primaryobjecttypecode),
        filtering: attrs === '' ? undefined : new Set(attrs.split(',').map((a) => a.trim().toLowerCase())),
        endpoint,
        mode: Number(v.mode ?? 0),
        stage: Number(v.stage ?? 40),
        name: String(v.name ?? ''),
      });
    }
    return out;
  }

  private onEvent(event: StoreEvent): void {
    if (this.closed || REGISTRATION.has(event.table)) return;
    const steps = this.steps();
    if (steps.length === 0) return;
    const messages = messagesOf(event);
    for (const step of steps) {
      if (!messages.includes(step.message)) continue;
      if (step.table !== undefined && step.table !== event.table) continue;
      if (step.endpoint.values.contract !== CONTRACT_WEBHOOK) continue;
      if (
        step.message === 'Update' &&
        step.filtering !== undefined &&
        event.kind === 'write' &&
        event.previous !== undefined &&
        ![...changedAttributes(event.previous, event.row)].some((a) => step.filtering?.has(a))
      )
        continue;
      if (!this.enabled) {
        this.dropped += 1;
        continue;
      }
      this.schedule(step, event);
    }
  }

  private schedule(step: Step, event: StoreEvent): void {
    const delivery: WebhookDelivery = {
      id: randomUUID(),
      stepId: step.id,
      message: step.message,
      table: event.table,
      rowId: event.id,
      changedAt: this.deps.now(),
      attempts: 0,
      status: 'pending',
      lastStatus: undefined,
    };
    this.deliveries.push(delivery);
    if (this.deliveries.length > MAX_KEPT) this.deliveries.splice(0, this.deliveries.length - MAX_KEPT);
    // The body is built now: it describes the change as it was made, not the row at delivery time.
    const body = JSON.stringify(this.context(step, event, delivery));
    this.later(this.deps.options.delayMs, () => this.attempt(step, delivery, body));
  }

  private later(ms: number, run: () => Promise<void>): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run().catch(() => undefined);
    }, ms);
    this.timers.add(timer);
  }

  private async attempt(step: Step, delivery: WebhookDelivery, body: string): Promise<void> {
    if (this.closed) return;
    delivery.attempts += 1;
    const endpoint = step.endpoint.values;
    const url = new URL(String(endpoint.url ?? ''));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-request-id': randomUUID(),
      'x-ms-dynamics-organization': this.deps.organizationName,
      'x-ms-dynamics-entity-name': delivery.table,
      'x-ms-dynamics-request-name': delivery.message,
      'x-ms-correlation-request-id': randomUUID(),
    };
    const authvalue = typeof endpoint.authvalue === 'string' ? endpoint.authvalue : '';
    if (endpoint.authtype === AUTH_WEBHOOK_KEY) url.searchParams.set('code', authvalue);
    if (endpoint.authtype === AUTH_HTTP_HEADER)
      for (const [name, value] of parseSettings(authvalue)) headers[name.toLowerCase()] = value;
    if (endpoint.authtype === AUTH_HTTP_QUERY_STRING)
      for (const [name, value] of parseSettings(authvalue)) url.searchParams.set(name, value);
    const abort = new AbortController();
    this.aborts.add(abort);
    const timeout = setTimeout(() => abort.abort(), this.deps.options.timeoutMs);
    let status = 0;
    try {
      const response = await fetch(url, { method: 'POST', headers, body, signal: abort.signal });
      status = response.status;
      await response.arrayBuffer().catch(() => undefined);
    } catch {
      status = 0;
    } finally {
      clearTimeout(timeout);
      this.aborts.delete(abort);
    }
    delivery.lastStatus = status;
    if (status >= 200 && status < 300) {
      delivery.status = 'delivered';
      return;
    }
    const wait = this.deps.options.retryDelaysMs[delivery.attempts - 1];
    if (wait === undefined || this.closed) {
      delivery.status = 'failed';
      return;
    }
    this.later(wait, () => this.attempt(step, delivery, body));
  }

  /** The RemoteExecutionContext JSON a webhook receives (lists of key/value pairs, WCF dates). */
  private context(step: Step, event: StoreEvent, delivery: WebhookDelivery): Record<string, unknown> {
    const now = delivery.changedAt;
    const actor = event.actorId ?? null;
    return {
      BusinessUnitId: this.deps.businessUnitId,
      CorrelationId: randomUUID(),
      Depth: 1,
      InitiatingUserAzureActiveDirectoryObjectId: '00000000-0000-0000-0000-000000000000',
      InitiatingUserId: actor,
      InputParameters: this.inputParameters(event, step.message),
      IsExecutingOffline: false,
      IsInTransaction: false,
      IsOfflinePlayback: false,
      IsolationMode: 1,
      MessageName: step.message,
      Mode: step.mode,
      OperationCreatedOn: wcfDate(now),
      OperationId: randomUUID(),
      OrganizationId: this.deps.organizationId(),
      OrganizationName: this.deps.organizationName,
      OutputParameters: [],
      OwningExtension: {
        Id: step.id,
        KeyAttributes: [],
        LogicalName: 'sdkmessageprocessingstep',
        Name: step.name,
        RowVersion: null,
      },
      ParentContext: null,
      PostEntityImages: [],
      PreEntityImages: [],
      PrimaryEntityId: event.id,
      PrimaryEntityName: event.table,
      RequestId: randomUUID(),
      SecondaryEntityName: 'none',
      SharedVariables: [],
      Stage: step.stage,
      UserAzureActiveDirectoryObjectId: '00000000-0000-0000-0000-000000000000',
      UserId: actor,
    };
  }

  private inputParameters(event: StoreEvent, message: string): { key: string; value: unknown }[] {
    const reference = entityReference(event.table, event.id);
    if (event.kind !== 'write' || (message !== 'Create' && message !== 'Update'))
      return [{ key: message === 'QualifyLead' ? 'LeadId' : 'Target', value: reference }];
    const changed = event.previous === undefined ? undefined : changedAttributes(event.previous, event.row);
    const attributes: { key: string; value: unknown }[] = [];
    for (const [name, value] of Object.entries(event.row.values)) {
      const lookup = /^_(.+)_value$/.exec(name);
      const attribute = lookup ? (lookup[1] as string) : name;
      if (changed !== undefined && !changed.has(attribute)) continue;
      if (changed === undefined && value === null) continue;
      const target = event.row.targets[name];
      attributes.push({
        key: attribute,
        value: lookup && typeof value === 'string' && target ? entityReference(target, value) : value,
      });
    }
    return [
      {
        key: 'Target',
        value: {
          __type: `Entity:${CONTRACTS}`,
          Attributes: attributes,
          EntityState: null,
          FormattedValues: [],
          Id: event.id,
          KeyAttributes: [],
          LogicalName: event.table,
          RelatedEntities: [],
          RowVersion: String(event.row.version),
        },
      },
    ];
  }
}
