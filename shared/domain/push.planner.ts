import type { FieldConstant } from '../config/sync-config.schema';
import { toDynamicsChoice } from './field.transform';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { contentHash, sameValue } from './content.hash';
import { columnType, type ColumnType, type EntityProfile, type PersonFieldRule } from './entity.profile';
import { sourceMetaOf } from './page.planner';
import {
  incomingMarketingValues,
  isForgotten,
  marketingValues,
  versionOf,
  withDynamicsRow,
  type PersonTable,
  type RowVersion,
} from './person.values';
import {
  fieldValueSchema,
  isActiveState,
  personRecordSchema,
  type FieldValue,
  type FieldValues,
  type PersonRecord,
  type PersonSource,
} from './record.model';
import { isLookupColumn, type MappedRow } from './row.mapper';
import { threeWayMerge } from './three-way.merge';
import { errorExcerpt, failingPaths } from '../errors/error.excerpt';

/** Dataverse single-line text holds at most 4000 characters; anything longer is never sent. */
export const MAX_TEXT_LENGTH = 4000;

const STATE_COLUMNS = new Set(['statecode', 'statuscode']);

/**
 * Fields a push may write: the direction allows it and the column takes a plain value. Lookups
 * (owner, parent account) and state change through dedicated Dynamics actions, never a field PATCH.
 */
export function pushableRules(rules: readonly PersonFieldRule[]): PersonFieldRule[] {
  return rules.filter(
    (rule) =>
      rule.direction !== 'pull' &&
      rule.useLookupName !== true &&
      !isLookupColumn(rule.dynamics) &&
      !STATE_COLUMNS.has(rule.dynamics),
  );
}

/**
 * What the person's sync state says about its last push; it lives at the top level of the document
 * because the record model's `sync` object does not keep unknown keys.
 */
export const pushStateSchema = z.object({
  status: z.enum(['error', 'retrying', 'parked', 'creating']),
  code: z.string(),
  message: z.string(),
  at: z.string(),
  /** Identifies the edit that failed: the same edit is not retried forever, a new edit is tried. */
  signature: z.string(),
  attempt: z.number().int().nonnegative().optional(),
  nextAttemptAt: z.string().optional(),
  fields: z.array(z.string()).optional(),
});
export type PushState = z.output<typeof pushStateSchema>;

export const PUSH_STATE_KEY = 'pushState';

export function pushStateOf(doc: object): PushState | undefined {
  const parsed = pushStateSchema.safeParse((doc as Record<string, unknown>)[PUSH_STATE_KEY]);
  return parsed.success ? parsed.data : undefined;
}

export function withPushState<T extends object>(doc: T, state: PushState | undefined): T {
  const { [PUSH_STATE_KEY]: _old, ...rest } = doc as Record<string, unknown>;
  return (state === undefined ? rest : { ...rest, [PUSH_STATE_KEY]: state }) as T;
}

/** Where the pushes of people stand: counts for the status page, oldest first. */
export interface PushBacklog {
  /** Edits waiting for their next attempt: failed transiently (retrying) or being created in Dynamics. */
  pending: number;
  /** Of those, the ones that failed at least once and wait on the retry queue. */
  retrying: number;
  /** Gave up after the last attempt: an operator's retry sends them again. */
  parked: number;
  /** Refused by Dynamics (validation, privilege): they need a fix on the marketing side. */
  failed: number;
  /** When the oldest pending edit first waited; null when none waits. */
  oldestPendingAt: string | null;
}

/** The backlog of these people's push states (undefined: nothing failing or waiting). */
export function backlogOf(states: Iterable<PushState | undefined>): PushBacklog {
  const backlog: PushBacklog = { pending: 0, retrying: 0, parked: 0, failed: 0, oldestPendingAt: null };
  for (const state of states) {
    if (state === undefined) continue;
    if (state.status === 'parked') backlog.parked += 1;
    else if (state.status === 'error') backlog.failed += 1;
    else {
      backlog.pending += 1;
      if (state.status === 'retrying') backlog.retrying += 1;
      if (backlog.oldestPendingAt === null || state.at < backlog.oldestPendingAt)
        backlog.oldestPendingAt = state.at;
    }
  }
  return backlog;
}

/**
 * A marketing-side request to create the person in Dynamics (the marketing application writes it on
 * a person that has no Dynamics part yet); the pusher carries it out, removes it and records the
 * outcome under SYNC_RESULT_KEY.
 */
export const SYNC_REQUEST_KEY = 'syncToDynamics';
export const SYNC_RESULT_KEY = 'syncToDynamicsResult';

export const syncRequestSchema = z.strictObject({
  as: z.enum(['lead', 'contact']),
  ownerId: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID')
    .optional(),
});
export type SyncRequest = z.output<typeof syncRequestSchema>;

export type ParsedDocument =
  | { kind: 'person'; person: PersonRecord }
  | { kind: 'create'; id: string; request: SyncRequest }
  | { kind: 'other'; id: string; entity: string }
  | { kind: 'invalid'; id: string | null; message: string; excerpt: string };

/** Validates one document from the change feed; a bad one is reported, never thrown. */
export function parsePushDocument(raw: unknown): ParsedDocument {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {
      kind: 'invalid',
      id: null,
      message: 'document is not a JSON object',
      excerpt: errorExcerpt(raw, [], []),
    };
  }
  const doc = raw as Record<string, unknown>;
  const id = typeof doc.id === 'string' && doc.id !== '' ? doc.id : null;
  if (id !== null && doc.entity !== 'person') {
    return { kind: 'other', id, entity: typeof doc.entity === 'string' ? doc.entity : '(none)' };
  }
  // A marketing-only person has no Dynamics side yet: it waits for "sync person to Dynamics",
  // which it may ask for itself.
  if (id !== null && doc.dynamics === undefined) {
    if (doc[SYNC_REQUEST_KEY] === undefined) return { kind: 'other', id, entity: 'person' };
    const request = syncRequestSchema.safeParse(doc[SYNC_REQUEST_KEY]);
    if (request.success) return { kind: 'create', id, request: request.data };
    return {
      kind: 'invalid',
      id,
      message: `${SYNC_REQUEST_KEY} is malformed: ${request.error.issues
        .map((issue) => `${issue.path.join('.') || '(request)'}: ${issue.message}`)
        .join('; ')}; expected {"as": "lead"|"contact", "ownerId"?: "<guid>"}`,
      excerpt: errorExcerpt(
        doc,
        ['id'],
        failingPaths(
          request.error.issues.map((issue) => ({ ...issue, path: [SYNC_REQUEST_KEY, ...issue.path] })),
        ),
      ),
    };
  }
  const parsed = personRecordSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      kind: 'invalid',
      id,
      message: parsed.error.issues
        .slice(0, 5)
        .map((issue) => `${issue.path.join('.') || '(document)'}: ${issue.message}`)
        .join('; ')
        .slice(0, 1000),
      // The id and the fields that failed: the rest of a person is personal data the error does not need.
      excerpt: errorExcerpt(doc, ['id'], failingPaths(parsed.error.issues)),
    };
  }
  return { kind: 'person', person: parsed.data };
}

type Converted = { ok: true; value: unknown } | { ok: false; message: string };

/** A marketing value as the Dataverse column takes it, or why it cannot be sent. */
export function toColumnValue(rule: PersonFieldRule, value: FieldValue, type?: ColumnType): Converted {
  if (value === null) return { ok: true, value: null };
  if (rule.transform?.some((t) => typeof t === 'object')) {
    // Marketing text back to the choice value its table names.
    const choice = toDynamicsChoice(rule, value);
    return choice.ok ? { ok: true, value: choice.value } : { ok: false, message: choice.reason };
  }
  const kind = type ?? columnType(rule.dynamics, false);
  const fail = (expected: string): Converted => ({
    ok: false,
    message: `${rule.marketing}: expected ${expected}, got ${describe(value)}`,
  });
  switch (kind) {
    case 'string':
      if (typeof value !== 'string') return fail('text');
      if (value.length > MAX_TEXT_LENGTH) {
        return {
          ok: false,
          message: `${rule.marketing}: ${value.length} characters, at most ${MAX_TEXT_LENGTH}`,
        };
      }
      return { ok: true, value };
    case 'int':
      return typeof value === 'number' && Number.isInteger(value)
        ? { ok: true, value }
        : fail('a whole number');
    case 'decimal':
      return typeof value === 'number' && Number.isFinite(value) ? { ok: true, value } : fail('a number');
    case 'bool':
      return typeof value === 'boolean' ? { ok: true, value } : fail('true or false');
    case 'datetime':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value))
        ? { ok: true, value }
        : fail('an ISO 8601 date');
    case 'choice':
      if (typeof value === 'number' && Number.isInteger(value)) return { ok: true, value };
      if (typeof value === 'object' && 'value' in value) return choiceColumnValue(value.value, fail);
      return fail('a choice value');
    case 'lookup':
      return fail('no lookup (lookups are not pushed)');
    case 'any':
      if (typeof value === 'string') {
        return value.length > MAX_TEXT_LENGTH
          ? {
              ok: false,
              message: `${rule.marketing}: ${value.length} characters, at most ${MAX_TEXT_LENGTH}`,
            }
          : { ok: true, value };
      }
      if (typeof value === 'number' || typeof value === 'boolean') return { ok: true, value };
      if ('value' in value) return choiceColumnValue(value.value, fail);
      return fail('a plain value');
  }
}

/** A choice as the Web API takes it: one integer, or a multi-select's values as "1,2" (null when none). */
function choiceColumnValue(value: unknown, fail: (expected: string) => Converted): Converted {
  if (typeof value === 'number' && Number.isInteger(value)) return { ok: true, value };
  if (Array.isArray(value) && value.every((v) => Number.isInteger(v))) {
    const chosen = [...new Set(value as number[])].sort((a, b) => a - b);
    return { ok: true, value: chosen.length === 0 ? null : chosen.join(',') };
  }
  return fail('a choice value');
}

function describe(value: FieldValue): string {
  if (typeof value === 'string') return value.length > 40 ? `text of ${value.length} characters` : 'text';
  if (typeof value === 'object' && value !== null) return 'id' in value ? 'a lookup' : 'a choice';
  return typeof value;
}

/** Marketing edits: push-allowed fields whose value differs from the last value agreed with Dynamics. */
export function pendingEdits(
  person: PersonRecord,
  rules: readonly PersonFieldRule[],
  held: ReadonlySet<string> = NO_FIELDS,
): FieldValues {
  const current = marketingValues(person, pushableRules(rules));
  const out: FieldValues = {};
  for (const [field, value] of Object.entries(current)) {
    if (held.has(field)) continue;
    // An absent agreed value is null on the Dynamics side: the pull stores every mapped field.
    if (!sameValue(value, person.sync.agreed[field] ?? null)) out[field] = value;
  }
  return out;
}

/** The PATCH body for marketing values, or the fields that cannot be sent. */
export function patchBody(
  changes: FieldValues,
  rules: readonly PersonFieldRule[],
): { ok: true; body: Record<string, unknown> } | { ok: false; fields: string[]; message: string } {
  const byField = new Map(rules.map((rule) => [rule.marketing, rule]));
  const body: Record<string, unknown> = {};
  const problems: string[] = [];
  const fields: string[] = [];
  for (const [field, value] of Object.entries(changes)) {
    const rule = byField.get(field);
    if (rule === undefined) continue;
    const converted = toColumnValue(rule, value);
    if (converted.ok) body[rule.dynamics] = converted.value;
    else {
      fields.push(field);
      problems.push(converted.message);
    }
  }
  if (fields.length > 0) return { ok: false, fields, message: problems.join('; ').slice(0, 1000) };
  return { ok: true, body };
}

export type SkipReason =
  | 'in_sync'
  | 'deleted_in_dynamics'
  | 'excluded'
  | 'forgotten'
  | 'merged'
  | 'lead_closed'
  | 'not_linked'
  | 'creating'
  | 'error_recorded'
  | 'retry_pending'
  | 'parked';

export interface PushTarget {
  table: PersonTable;
  rowId: string;
  /** The row version the agreed values belong to: the PATCH is conditional on it (If-Match). */
  etag: string;
}

export type PushPlan =
  | { kind: 'skip'; reason: SkipReason }
  /** In sync again (a pull settled it) while the state still shows a failure: clear the state. */
  | { kind: 'resolved' }
  | {
      kind: 'invalid';
      target: PushTarget;
      code: 'invalid_value';
      message: string;
      fields: string[];
      signature: string;
    }
  | {
      kind: 'push';
      target: PushTarget;
      /** The marketing values being sent, by marketing field. */
      changes: FieldValues;
      body: Record<string, unknown>;
      /** The top-level values the plan was made from (detects a marketing edit made meanwhile). */
      planned: FieldValues;
      signature: string;
    };

export interface PlanOptions {
  /** Ignore a recorded failure of the same edit (a retry message or an operator's retry). */
  force?: boolean;
  /**
   * Fields whose marketing value is held back this time (a multi-select option Dynamics has no label
   * for): not sent, kept as the marketing side wrote it, and reported for mapping.
   */
  held?: ReadonlySet<string>;
  /** Column values every write carries (SYNC_CONFIG constants with `on: "write"`). */
  constants?: readonly FieldConstant[];
}

const NO_FIELDS: ReadonlySet<string> = new Set();

export function pushSignature(target: PushTarget, changes: FieldValues): string {
  return contentHash({ table: target.table, rowId: target.rowId, etag: target.etag, changes });
}

/** Decides what, if anything, to send to Dynamics for one person. */
export function planPush(
  person: PersonRecord,
  rules: readonly PersonFieldRule[],
  options: PlanOptions = {},
): PushPlan {
  const table = person.type;
  const rowId = table === 'lead' ? person.dynamics.leadId : person.dynamics.contactId;
  const state = pushStateOf(person);
  if (rowId === undefined || person.dynamics[table] === undefined) {
    return { kind: 'skip', reason: state?.status === 'creating' ? 'creating' : 'not_linked' };
  }
  // The row is gone or no longer synced: marketing edits stay in Cosmos, nothing is written back.
  if (person.sync.deletedInDynamics !== undefined || person.dynamics[table]?.deletedAt !== undefined) {
    return { kind: 'skip', reason: 'deleted_in_dynamics' };
  }
  if (person.sync.excluded !== undefined) return { kind: 'skip', reason: 'excluded' };
  if (isForgotten(person)) return { kind: 'skip', reason: 'forgotten' };
  if (person.sync.merged !== undefined) return { kind: 'skip', reason: 'merged' };
  // Dynamics refuses every update of a qualified or disqualified lead but a reopen, and the push never
  // writes the state: the edits stay in Cosmos instead of failing on every pass.
  if (table === 'lead' && !isActiveState(person.dynamics.lead?.statecode))
    return { kind: 'skip', reason: 'lead_closed' };
  const changes = pendingEdits(person, rules, options.held);
  if (Object.keys(changes).length === 0) {
    return state !== undefined && state.status !== 'creating'
      ? { kind: 'resolved' }
      : { kind: 'skip', reason: 'in_sync' };
  }
  const target: PushTarget = { table, rowId, etag: person.dynamics.etag };
  const signature = pushSignature(target, changes);
  if (!options.force && state !== undefined && state.signature === signature) {
    const reason: SkipReason =
      state.status === 'retrying' ? 'retry_pending' : state.status === 'parked' ? 'parked' : 'error_recorded';
    return { kind: 'skip', reason };
  }
  const body = patchBody(changes, pushableRules(rules));
  if (!body.ok) {
    return {
      kind: 'invalid',
      target,
      code: 'invalid_value',
      message: body.message,
      fields: body.fields,
      signature,
    };
  }
  return {
    kind: 'push',
    target,
    changes,
    body: { ...constantColumns(options.constants ?? [], 'write'), ...body.body },
    planned: marketingValues(person, rules),
    signature,
  };
}

export interface ConflictResolution {
  /** The values the person should hold once settled (the merge result). */
  values: FieldValues;
  /** What Dynamics holds now. */
  incoming: FieldValues;
  conflicts: string[];
  /** Marketing values still to send after the merge (empty: nothing to write). */
  changes: FieldValues;
  body: Record<string, unknown>;
}

/**
 * A 412 on the PATCH: Dynamics changed the row since the last agreement. Re-merge three ways
 * against the row as it is now, with the entity's conflict rule, and send only what marketing
 * still owns.
 */
export function resolveConflict(
  person: PersonRecord,
  rules: readonly PersonFieldRule[],
  incoming: FieldValues,
  held: ReadonlySet<string> = NO_FIELDS,
):
  | { ok: true; resolution: ConflictResolution }
  | { ok: false; fields: string[]; message: string; incoming: FieldValues } {
  const merge = threeWayMerge(rules, incoming, person.sync.agreed, marketingValues(person, rules));
  const pushable = new Set(pushableRules(rules).map((rule) => rule.marketing));
  const changes: FieldValues = {};
  for (const field of merge.pendingPush) {
    if (pushable.has(field) && !held.has(field)) changes[field] = merge.values[field] ?? null;
  }
  const body = patchBody(changes, pushableRules(rules));
  if (!body.ok) return { ok: false, fields: body.fields, message: body.message, incoming };
  return {
    ok: true,
    resolution: { values: merge.values, incoming, conflicts: merge.conflicts, changes, body: body.body },
  };
}

/** What is known about the row after a successful push (or a merge that needed no write). */
export interface PushedRow extends RowVersion {
  table: PersonTable;
  /** Dynamics' values of the person's fields now. */
  incoming: FieldValues;
  /** Top-level values the person should take, unless marketing edited the field meanwhile. */
  settled: FieldValues;
  /** Top-level values the push was planned from. */
  planned: FieldValues;
  /** The row as returned, to refresh the stored source (so the next pull of this version writes nothing). */
  row?: MappedRow;
}

export function sourceOf(row: MappedRow, previous: PersonSource | undefined): PersonSource {
  return { ...sourceMetaOf(row, previous?.seenLoad), values: row.values };
}

/**
 * Records a push on the person: the new agreed values, etag and version. Applied to the latest
 * stored version, so a marketing edit made while the push ran is kept (and pushed next), and a
 * version the pull already recorded is not rolled back. Undefined: nothing to write.
 */
export function applyPushed(
  person: PersonRecord,
  pushed: PushedRow,
  rules: readonly PersonFieldRule[],
  now: string,
): PersonRecord | undefined {
  if (person.type !== pushed.table) return undefined;
  const source = person.dynamics[pushed.table];
  if (person.dynamics.versionnumber >= pushed.versionnumber) {
    // The pull got there first with this version or a newer one; only a stale failure state remains.
    return pushStateOf(person) === undefined ? undefined : withPushState(person, undefined);
  }
  const doc = person as Record<string, unknown>;
  const top: FieldValues = {};
  for (const rule of rules) {
    const field = rule.marketing;
    if (!(field in pushed.settled)) continue;
    const unchanged = sameValue(doc[field] ?? null, pushed.planned[field] ?? null);
    top[field] = unchanged ? (pushed.settled[field] ?? null) : (doc[field] as FieldValue);
  }
  const agreed: FieldValues = { ...person.sync.agreed };
  for (const rule of rules) agreed[rule.marketing] = pushed.incoming[rule.marketing] ?? null;
  const nextSource: PersonSource | undefined =
    pushed.row !== undefined
      ? sourceOf(pushed.row, source)
      : source !== undefined
        ? { ...source, etag: pushed.etag, versionnumber: pushed.versionnumber, modifiedon: pushed.modifiedon }
        : undefined;
  const next: PersonRecord = {
    ...person,
    ...top,
    dynamics: withDynamicsRow(person.dynamics, pushed.table, pushed, nextSource),
    sync: { ...person.sync, agreed, updatedAt: now },
  };
  return withPushState(next, undefined);
}

/** Marks the person as failing to push, for the API and for "not retried forever". */
export function withPushFailure(person: PersonRecord, state: PushState): PersonRecord | undefined {
  const current = pushStateOf(person);
  if (
    current !== undefined &&
    current.status === state.status &&
    current.signature === state.signature &&
    current.code === state.code &&
    current.attempt === state.attempt
  ) {
    return undefined;
  }
  return withPushState(person, state);
}

// ---------------------------------------------------------------- create in Dynamics

/** A marketing person that may not be linked to Dynamics yet. */
export const marketingPersonSchema = z.looseObject({
  id: z.string().min(1),
  entity: z.literal('person'),
  type: z.enum(['lead', 'contact']).optional(),
  email: fieldValueSchema.optional(),
  dynamics: z.looseObject({ leadId: z.string().optional(), contactId: z.string().optional() }).optional(),
  _etag: z.string().optional(),
});
export type MarketingPerson = z.output<typeof marketingPersonSchema>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The Dynamics id a person is created with. Derived from the person's id, so two concurrent or
 * retried creates of one person choose the same id and If-None-Match lets only one of them in.
 */
export function rowIdFor(personId: string, table: PersonTable): string {
  if (GUID.test(personId)) return personId.toLowerCase();
  const hex = createHash('sha256').update(`person:${table}:${personId}`).digest('hex');
  // Shaped as a name-based (version 5, RFC 4122 variant) UUID.
  const variant = ((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

/** The row to create: push-allowed fields with a value, and the owner when given. */
export function createBody(
  person: object,
  rules: readonly PersonFieldRule[],
  ownerId: string | undefined,
  constants: readonly FieldConstant[] = [],
): { ok: true; body: Record<string, unknown> } | { ok: false; fields: string[]; message: string } {
  const values = marketingValues(person, pushableRules(rules));
  const present: FieldValues = {};
  for (const [field, value] of Object.entries(values)) if (value !== null) present[field] = value;
  const body = patchBody(present, pushableRules(rules));
  if (!body.ok) return body;
  // Marketing values win over a constant of the same column (the config refuses that pairing anyway).
  body.body = { ...constantColumns(constants, 'create'), ...body.body };
  if (ownerId !== undefined) body.body['ownerid@odata.bind'] = `/systemusers(${ownerId.toLowerCase()})`;
  return body;
}

/** The constants a create (all of them) or a later write (`on: "write"` only) carries, by column. */
export function constantColumns(
  constants: readonly FieldConstant[],
  when: 'create' | 'write',
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const constant of constants) {
    if (when === 'create' || constant.on === 'write') out[constant.dynamics] = constant.value;
  }
  return out;
}

export function emailOf(person: object): string | undefined {
  const email = (person as Record<string, unknown>).email;
  return typeof email === 'string' && email.trim() !== '' ? email.trim() : undefined;
}

/**
 * Before creating, the person names the row it is about to get, so a pull that sees the row first
 * joins it to this person instead of making a second one.
 */
export function reserveCreate(
  person: MarketingPerson,
  table: PersonTable,
  rowId: string,
  signature: string,
  now: string,
): PersonRecord {
  const sync = (person as Record<string, unknown>).sync;
  const agreed =
    typeof sync === 'object' && sync !== null && 'agreed' in sync
      ? (sync as { agreed: FieldValues }).agreed
      : {};
  const doc = {
    ...person,
    type: table,
    // No version yet: the values are agreed at nothing until the created row is read.
    dynamics: withDynamicsRow(
      person.dynamics,
      table,
      { rowId, etag: '', versionnumber: 0, modifiedon: null },
      undefined,
    ),
    sync: { updatedAt: now, agreed },
  } as PersonRecord;
  return withPushState(doc, {
    status: 'creating',
    code: 'creating',
    message: `being created in Dynamics as ${table} ${rowId}`,
    at: now,
    signature,
  });
}

/**
 * Joins a person to its Dynamics row (just created, or found by email). Values are merged three
 * ways with no agreed base: equal values agree, differing ones follow the entity's conflict rule,
 * and what marketing wins stays pending for the pusher.
 */
export function linkPerson(
  person: object,
  profile: EntityProfile,
  row: MappedRow,
  now: string,
): PersonRecord {
  const table = profile.logicalName as PersonTable;
  const rules = profile.personFields;
  const incoming = incomingMarketingValues(rules, row);
  const current = marketingValues(person, rules);
  const merge = threeWayMerge(rules, incoming, undefined, current);
  const base = person as Record<string, unknown>;
  const dynamics = typeof base.dynamics === 'object' && base.dynamics !== null ? base.dynamics : undefined;
  const doc = {
    ...base,
    ...merge.values,
    entity: 'person',
    type: table,
    dynamics: withDynamicsRow(dynamics, table, versionOf(row), sourceOf(row, undefined)),
    sync: { updatedAt: now, agreed: merge.agreed },
  } as PersonRecord;
  return withPushState(doc, undefined);
}
