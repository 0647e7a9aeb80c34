import type { DataverseError } from '../dataverse/dataverse.errors';
import type { EntityProfile } from '../domain/entity.profile';
import {
  applyPushed,
  parsePushDocument,
  pendingEdits,
  planPush,
  pushStateOf,
  resolveConflict,
  withPushFailure,
  withPushState,
  type PushedRow,
  type PushState,
  type SyncRequest,
} from '../domain/push.planner';
import { isPerson, type FieldValues, type PersonRecord } from '../domain/record.model';
import { mapRow, type MappedRow } from '../domain/row.mapper';
import type { Logger } from '../telemetry/logger';
import { ORGANIZATION_CHANGED } from '../domain/checkpoint.state';
import type {
  CheckpointStore,
  ChoiceOptions,
  ErrorSink,
  PersonRowGateway,
  PushRetryScheduler,
  RecordStore,
  RowOutcome,
} from './ports';
import { unknownOptions } from '../domain/choice.rules';
import type { CreatePersonResult } from './push-create.use-case';
import { retryDelayMs, type PushRetryMessage } from './push-retry.message';
import { incomingMarketingValues, type PersonTable } from '../domain/person.values';

export interface RetryPolicy {
  /** Retries before the edit is parked. */
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 8, baseMs: 30_000, maxMs: 30 * 60_000 };

export interface PushDeps {
  rows: PersonRowGateway;
  /** "Sync person to Dynamics", for people that ask for it themselves (`syncToDynamics`). */
  createPerson(request: { personId: string; as: PersonTable; ownerId?: string }): Promise<CreatePersonResult>;
  people: RecordStore;
  errors: ErrorSink;
  retries: PushRetryScheduler;
  profiles: Record<PersonTable, EntityProfile>;
  log: Logger;
  /**
   * The options Dynamics defines for multi-select columns: a marketing value with an option Dynamics
   * has no label for is held back and reported instead of failing the person's whole push. Without
   * it every value is sent and Dynamics refuses unknown ones.
   */
  choices?: ChoiceOptions;
  /**
   * The lead and contact checkpoints: while either is paused because the Dynamics organisation
   * changed (a sandbox refresh), nothing is pushed; the edits stay pending, and the rebaseline's
   * rewrite of every person brings them back to the pusher. Absent: not checked.
   */
  checkpoints?: Pick<CheckpointStore, 'get'>;
  /** PATCH requests per $batch (1..1000). */
  batchSize?: number;
  /** $batch requests in flight at once (the governor still caps all Dataverse traffic). */
  batchConcurrency?: number;
  retry?: Partial<RetryPolicy>;
  /** Rounds of 412 -> read -> re-merge -> PATCH before the edit goes to the retry queue. */
  maxConflictRounds?: number;
  now?: () => Date;
  random?: () => number;
  /** Test seam: runs after Dynamics accepted writes and before they are recorded (crash injection). */
  afterDynamicsWrite?: (personIds: readonly string[]) => Promise<void> | void;
}

export interface PushRunOptions {
  /** The retry attempt this run is (0 = first try from the change feed). */
  attempt?: number;
  /** Try again even if this very edit already failed (a retry message, an operator's retry). */
  force?: boolean;
  firstFailedAt?: string;
  correlationId?: string;
}

export type PersonOutcome =
  'pushed' | 'settled' | 'in_sync' | 'skipped' | 'invalid' | 'rejected' | 'retrying' | 'parked';

export interface PushSummary {
  documents: number;
  /** Marketing edits Dynamics accepted. */
  pushed: number;
  /** 412s re-merged and settled without a write (Dynamics already had the values). */
  settled: number;
  conflicts: number;
  inSync: number;
  skipped: number;
  /** Bad documents and values that cannot be sent: error records. */
  invalid: number;
  /** Marketing-side requests to create the person in Dynamics that were carried out (created or linked). */
  created: number;
  /** Rejected by Dynamics (validation, privilege, missing row): error records. */
  rejected: number;
  retrying: number;
  parked: number;
  /** $batch requests sent. */
  requests: number;
  /** Cosmos documents written (agreed values and failure states). */
  cosmosWrites: number;
  outcomes: Map<string, PersonOutcome>;
}

interface WorkItem {
  person: PersonRecord;
  table: PersonTable;
  rowId: string;
  etag: string;
  body: Record<string, unknown>;
  changes: FieldValues;
  planned: FieldValues;
  /** Values after a conflict merge (undefined: a plain push). */
  merged?: FieldValues;
  signature: string;
  /** Fields held back (unknown multi-select options): never sent, also not after a re-merge. */
  held: ReadonlySet<string>;
}

interface Done {
  item: WorkItem;
  pushed: PushedRow;
  /** False when a re-merge found Dynamics already holding the settled values. */
  wrote: boolean;
}

interface Failure {
  person: PersonRecord;
  table: PersonTable;
  signature: string;
  code: string;
  message: string;
  fields?: string[];
}

const MAX_RECORD_ATTEMPTS = 5;

const emptySummary = (): PushSummary => ({
  documents: 0,
  pushed: 0,
  settled: 0,
  conflicts: 0,
  inSync: 0,
  skipped: 0,
  invalid: 0,
  rejected: 0,
  created: 0,
  retrying: 0,
  parked: 0,
  requests: 0,
  cosmosWrites: 0,
  outcomes: new Map(),
});

/**
 * Pushes marketing edits of people to Dynamics. Only values that differ from the last agreed
 * values are sent (no echo, nothing filtered by author), as PATCHes with If-Match grouped in
 * $batch requests that continue on error. A 412 is re-merged three ways against the current row.
 * Accepted writes are recorded on the document under its _etag; rejections become error records;
 * transient failures go to the push-retry queue with backoff and are parked after the last attempt.
 */
export class PushUseCase {
  private readonly now: () => Date;
  private readonly batchSize: number;
  private readonly retry: RetryPolicy;

  constructor(private readonly deps: PushDeps) {
    this.now = deps.now ?? (() => new Date());
    this.batchSize = Math.min(1000, Math.max(1, Math.floor(deps.batchSize ?? 100)));
    this.retry = { ...DEFAULT_RETRY_POLICY, ...(deps.retry ?? {}) };
  }

  /** Pushes the edits found in a set of changed documents (a change-feed batch, a retry, a CLI page). */
  async pushDocuments(raws: readonly unknown[], options: PushRunOptions = {}): Promise<PushSummary> {
    const summary = emptySummary();
    summary.documents = raws.length;
    if (await this.organizationChanged()) {
      summary.skipped = raws.length;
      this.deps.log.warn('push skipped: the Dynamics organisation changed; run dynamics-sync rebaseline', {
        documents: raws.length,
      });
      return summary;
    }
    const at = this.now().toISOString();
    const latest = new Map<string, PersonRecord>();
    const creates = new Map<string, SyncRequest>();
    for (const raw of raws) {
      const parsed = parsePushDocument(raw);
      if (parsed.kind === 'other') {
        summary.skipped += 1;
        continue;
      }
      if (parsed.kind === 'create') {
        creates.set(parsed.id, parsed.request);
        continue;
      }
      if (parsed.kind === 'invalid') {
        summary.invalid += 1;
        if (parsed.id !== null) summary.outcomes.set(parsed.id, 'invalid');
        await this.deps.errors.record({
          entity: 'person',
          recordId: parsed.id,
          operation: 'push',
          code: 'invalid_document',
          message: `document cannot be pushed: ${parsed.message}`,
          excerpt: parsed.excerpt,
          at,
          ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
        });
        continue;
      }
      // The feed may hold several versions of one person: the last one is the newest.
      latest.set(parsed.person.id, parsed.person);
    }

    const work: WorkItem[] = [];
    const failures: Failure[] = [];
    const cleared: PersonRecord[] = [];
    for (const person of latest.values()) {
      const rules = this.rules(person.type);
      const held = await this.heldChoices(person, at, options);
      const plan = planPush(person, rules, {
        force: options.force === true,
        held,
        constants: this.deps.profiles[person.type].constants,
      });
      switch (plan.kind) {
        case 'skip':
          if (plan.reason === 'in_sync') summary.inSync += 1;
          else summary.skipped += 1;
          summary.outcomes.set(person.id, plan.reason === 'in_sync' ? 'in_sync' : 'skipped');
          break;
        case 'resolved':
          summary.inSync += 1;
          summary.outcomes.set(person.id, 'in_sync');
          cleared.push(withPushState(person, undefined));
          break;
        case 'invalid':
          summary.invalid += 1;
          summary.outcomes.set(person.id, 'invalid');
          failures.push({
            person,
            table: plan.target.table,
            signature: plan.signature,
            code: plan.code,
            message: `not sent to Dynamics: ${plan.message}`,
            fields: plan.fields,
          });
          break;
        case 'push':
          work.push({
            person,
            table: plan.target.table,
            rowId: plan.target.rowId,
            etag: plan.target.etag,
            body: plan.body,
            changes: plan.changes,
            planned: plan.planned,
            signature: plan.signature,
            held,
          });
      }
    }
    if (cleared.length > 0) {
      const { written } = await this.deps.people.write(cleared);
      summary.cosmosWrites += written;
    }
    await this.reject(failures, summary, options);

    const chunks: WorkItem[][] = [];
    for (let i = 0; i < work.length; i += this.batchSize) chunks.push(work.slice(i, i + this.batchSize));
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++] as WorkItem[];
        await this.pushChunk(chunk, summary, options);
      }
    };
    const lanes = Math.max(1, Math.min(this.deps.batchConcurrency ?? 4, chunks.length));
    await Promise.all(Array.from({ length: lanes }, worker));
    for (const [personId, request] of creates) await this.createRequested(personId, request, summary);
    // Most change-feed batches are the sync's own pull writes with nothing to send: keep those quiet.
    const acted =
      summary.requests + summary.invalid + summary.rejected + summary.retrying + summary.parked > 0;
    this.deps.log[acted ? 'info' : 'debug']('push finished', {
      documents: summary.documents,
      pushed: summary.pushed,
      settled: summary.settled,
      conflicts: summary.conflicts,
      invalid: summary.invalid,
      rejected: summary.rejected,
      retrying: summary.retrying,
      parked: summary.parked,
      requests: summary.requests,
    });
    return summary;
  }

  /**
   * Carries out a marketing-side request to create the person in Dynamics. The create use case records
   * the outcome on the person and removes the request; a transient failure is thrown, so the batch
   * is delivered again (every step of the create is idempotent).
   */
  private async createRequested(personId: string, request: SyncRequest, summary: PushSummary): Promise<void> {
    const result = await this.deps.createPerson({
      personId,
      as: request.as,
      ...(request.ownerId !== undefined ? { ownerId: request.ownerId } : {}),
    });
    if (result.status === 'created' || result.status === 'linked' || result.status === 'exists') {
      summary.created += 1;
      summary.outcomes.set(personId, 'pushed');
    } else if (result.status === 'rejected' || result.status === 'duplicate') {
      summary.rejected += 1;
      summary.outcomes.set(personId, 'rejected');
    }
  }

  /**
   * Multi-select fields whose marketing value names an option Dynamics has no label for: held back
   * (kept in marketing, not sent) and recorded as `unknown_option`, naming the column and values, so
   * the option can be added in Dynamics or the value mapped. The other fields still go.
   */
  private async heldChoices(person: PersonRecord, at: string, options: PushRunOptions): Promise<Set<string>> {
    const held = new Set<string>();
    const choices = this.deps.choices;
    if (choices === undefined) return held;
    const profile = this.deps.profiles[person.type];
    for (const [field, value] of Object.entries(pendingEdits(person, profile.personFields))) {
      if (value === null || typeof value !== 'object' || !('value' in value) || !Array.isArray(value.value))
        continue;
      const rule = profile.personFields.find((r) => r.marketing === field);
      if (rule === undefined) continue;
      const known = await choices.optionsOf(person.type, rule.dynamics);
      if (known === undefined) continue;
      const unknown = unknownOptions(value.value, known);
      if (unknown.length === 0) continue;
      held.add(field);
      await this.deps.errors.record({
        entity: person.type,
        recordId: person.id,
        operation: 'push',
        code: 'unknown_option',
        message: `${person.type} column ${rule.dynamics} (marketing field ${field}): option value ${unknown.join(', ')} has no label in Dynamics, so the field was held in marketing and not sent (the other fields were); add the option to the column in Dynamics or change the marketing value to one of: ${[...known].map(([v, l]) => `${v} ${l}`).join(', ')}`,
        excerpt: `${field}: ${value.value.join(',')}`,
        at,
        ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
      });
    }
    return held;
  }

  /** Whether a person table is paused because Dynamics now answers as another organisation. */
  private async organizationChanged(): Promise<boolean> {
    const checkpoints = this.deps.checkpoints;
    if (checkpoints === undefined) return false;
    for (const table of ['lead', 'contact'] as const) {
      if ((await checkpoints.get(table))?.paused?.code === ORGANIZATION_CHANGED) return true;
    }
    return false;
  }

  private rules(table: PersonTable) {
    return this.deps.profiles[table].personFields;
  }

  /** One $batch of PATCHes, then rounds of 412 -> read -> re-merge -> PATCH; then records the outcome. */
  private async pushChunk(items: WorkItem[], summary: PushSummary, options: PushRunOptions): Promise<void> {
    const succeeded: Done[] = [];
    const rejected: Failure[] = [];
    const transient: Failure[] = [];
    let pending = items;
    const rounds = this.deps.maxConflictRounds ?? 3;
    for (let round = 0; pending.length > 0; round += 1) {
      summary.requests += 1;
      const outcomes = await this.deps.rows.update(
        pending.map((item) => ({
          profile: this.deps.profiles[item.table],
          rowId: item.rowId,
          etag: item.etag,
          body: item.body,
        })),
      );
      const conflicted: WorkItem[] = [];
      pending.forEach((item, i) => {
        const outcome = outcomes[i] as RowOutcome;
        switch (outcome.kind) {
          case 'accepted':
            succeeded.push({ item, pushed: this.pushedFrom(item, outcome.body), wrote: true });
            return;
          case 'conflict':
          case 'exists':
            conflicted.push(item);
            return;
          case 'rejected':
            rejected.push(this.failure(item, outcome.error));
            return;
          case 'transient':
            transient.push(this.failure(item, outcome.error));
        }
      });
      summary.conflicts += conflicted.length;
      if (conflicted.length === 0) break;
      if (round >= rounds) {
        for (const item of conflicted) {
          transient.push({
            ...this.failure(item),
            code: 'conflict_loop',
            message: `the row kept changing in Dynamics during ${rounds + 1} attempts`,
          });
        }
        break;
      }
      pending = await this.remerge(conflicted, succeeded, rejected, transient, summary);
    }
    if (succeeded.length > 0) {
      await this.deps.afterDynamicsWrite?.(succeeded.map((s) => s.item.person.id));
      await this.record(succeeded, summary);
    }
    await this.reject(rejected, summary, options);
    await this.defer(transient, summary, options);
  }

  /** Reads the current rows of the conflicted items (one $batch) and re-merges each. */
  private async remerge(
    conflicted: WorkItem[],
    succeeded: Done[],
    rejected: Failure[],
    transient: Failure[],
    summary: PushSummary,
  ): Promise<WorkItem[]> {
    summary.requests += 1;
    const outcomes = await this.deps.rows.read(
      conflicted.map((item) => ({ profile: this.deps.profiles[item.table], rowId: item.rowId })),
    );
    const retry: WorkItem[] = [];
    conflicted.forEach((item, i) => {
      const outcome = outcomes[i] as RowOutcome;
      if (outcome.kind === 'rejected' || outcome.kind === 'transient') {
        (outcome.kind === 'transient' ? transient : rejected).push(this.failure(item, outcome.error));
        return;
      }
      const row = outcome.kind === 'accepted' ? this.rowOf(item.table, outcome.body) : undefined;
      if (row === undefined) {
        transient.push({
          ...this.failure(item),
          code: 'bad_response',
          message: 'Dynamics returned an unreadable row',
        });
        return;
      }
      const rules = this.rules(item.table);
      const incoming = incomingMarketingValues(rules, row);
      const resolved = resolveConflict(item.person, rules, incoming, item.held);
      if (!resolved.ok) {
        rejected.push({
          ...this.failure(item),
          code: 'invalid_value',
          message: `not sent to Dynamics: ${resolved.message}`,
          fields: resolved.fields,
        });
        return;
      }
      const resolution = resolved.resolution;
      if (Object.keys(resolution.changes).length === 0) {
        succeeded.push({
          item: { ...item, merged: resolution.values },
          pushed: this.pushedAs(item, row, incoming, resolution.values),
          wrote: false,
        });
        return;
      }
      retry.push({
        ...item,
        etag: row.etag,
        body: resolution.body,
        changes: resolution.changes,
        merged: resolution.values,
      });
    });
    return retry;
  }

  private rowOf(table: PersonTable, body: unknown): MappedRow | undefined {
    if (typeof body !== 'object' || body === null) return undefined;
    const mapped = mapRow(this.deps.profiles[table], body);
    return mapped.ok ? mapped.row : undefined;
  }

  /** What Dynamics holds after an accepted PATCH: the returned row, or agreed values plus what was sent. */
  private pushedFrom(item: WorkItem, body: unknown): PushedRow {
    const rules = this.rules(item.table);
    const row = this.rowOf(item.table, body);
    const base: FieldValues = item.merged ?? item.planned;
    if (row === undefined) {
      const returned = (body as Record<string, unknown> | undefined)?.['@odata.etag'];
      return {
        table: item.table,
        rowId: item.rowId,
        // Without the new etag the next PATCH would 412 and re-merge: safe, only slower.
        etag: typeof returned === 'string' ? returned : item.etag,
        // The write moved the row's version at least one step; the next pull brings the exact one.
        versionnumber: item.person.dynamics.versionnumber + 1,
        modifiedon: item.person.dynamics.modifiedon,
        incoming: { ...item.person.sync.agreed, ...item.changes },
        settled: { ...base, ...item.changes },
        planned: item.planned,
      };
    }
    const incoming = incomingMarketingValues(rules, row);
    const settled: FieldValues = { ...base };
    // Dynamics may normalise what it stores; taking its value stops the edit from looking pending forever.
    for (const field of Object.keys(item.changes)) settled[field] = incoming[field] ?? null;
    return this.pushedAs(item, row, incoming, settled);
  }

  /** The person's row at the version Dynamics returned, with the values it and the person settle on. */
  private pushedAs(item: WorkItem, row: MappedRow, incoming: FieldValues, settled: FieldValues): PushedRow {
    return {
      table: item.table,
      rowId: item.rowId,
      etag: row.etag,
      versionnumber: row.versionnumber,
      modifiedon: row.modifiedon,
      incoming,
      settled,
      planned: item.planned,
      row,
    };
  }

  /**
   * Earlier push errors of persons whose edits Dynamics has now taken are over. Every such error
   * left a push state on its person (error, retrying, parked), so only those persons are looked up:
   * the common push, with nothing failed before, costs no query.
   */
  private async resolveErrors(done: Done[], at: string): Promise<void> {
    const byTable = new Map<string, string[]>();
    for (const d of done) {
      if (pushStateOf(d.item.person) === undefined) continue;
      byTable.set(d.item.table, [...(byTable.get(d.item.table) ?? []), d.item.person.id]);
    }
    for (const [table, ids] of byTable) await this.deps.errors.resolve(table, ids, at, 'push');
  }

  /** Records accepted writes on the documents; a document changed meanwhile is re-read and re-applied. */
  private async record(done: Done[], summary: PushSummary): Promise<void> {
    const at = this.now().toISOString();
    const byId = new Map(done.map((d) => [d.item.person.id, d]));
    for (const d of done) {
      summary.outcomes.set(d.item.person.id, d.wrote ? 'pushed' : 'settled');
      if (d.wrote) summary.pushed += 1;
      else summary.settled += 1;
    }
    await this.resolveErrors(done, at);
    let docs = done.map((d) => d.item.person);
    for (let attempt = 1; docs.length > 0; attempt += 1) {
      const writes: PersonRecord[] = [];
      for (const doc of docs) {
        const entry = byId.get(doc.id);
        if (entry === undefined) continue;
        const next = applyPushed(doc, entry.pushed, this.rules(entry.pushed.table), at);
        if (next !== undefined) writes.push(next);
      }
      const outcome = await this.deps.people.write(writes);
      summary.cosmosWrites += outcome.written;
      if (outcome.conflicts.length === 0) return;
      if (attempt >= MAX_RECORD_ATTEMPTS) {
        // Dynamics has the values; the next delivery re-merges against them and records them then.
        this.deps.log.warn('push recorded late: documents kept changing', {
          ids: outcome.conflicts.slice(0, 5),
        });
        return;
      }
      const found = await this.deps.people.findForPage(outcome.conflicts);
      const wanted = new Set(outcome.conflicts);
      docs = found.docs.filter((doc): doc is PersonRecord => isPerson(doc) && wanted.has(doc.id));
    }
  }

  /** Dynamics said no (or the value cannot be sent): an error record, and the person shows it. */
  private async reject(failures: Failure[], summary: PushSummary, options: PushRunOptions): Promise<void> {
    if (failures.length === 0) return;
    const at = this.now().toISOString();
    const states: PersonRecord[] = [];
    for (const failure of failures) {
      if (failure.code !== 'invalid_value') {
        summary.rejected += 1;
        summary.outcomes.set(failure.person.id, 'rejected');
      } else if (summary.outcomes.get(failure.person.id) !== 'invalid') {
        // Found only after a re-merge (the merged value cannot be sent).
        summary.invalid += 1;
        summary.outcomes.set(failure.person.id, 'invalid');
      }
      await this.recordError(failure, at, options);
      const state = withPushFailure(failure.person, {
        ...this.state('error', failure, at),
        ...(failure.fields !== undefined ? { fields: failure.fields } : {}),
      });
      if (state !== undefined) states.push(state);
    }
    await this.writeStates(states, summary);
  }

  /** Transient failures: scheduled on the retry queue with backoff, or parked after the last attempt. */
  private async defer(failures: Failure[], summary: PushSummary, options: PushRunOptions): Promise<void> {
    if (failures.length === 0) return;
    const now = this.now();
    const at = now.toISOString();
    const attempt = (options.attempt ?? 0) + 1;
    const states: PersonRecord[] = [];
    const first = failures[0] as Failure;
    if (attempt > this.retry.maxAttempts) {
      for (const failure of failures) {
        summary.parked += 1;
        summary.outcomes.set(failure.person.id, 'parked');
        await this.recordError(failure, at, options, {
          code: 'parked',
          message: `gave up after ${attempt} attempts since ${options.firstFailedAt ?? at}; last error ${failure.code}: ${failure.message}`,
        });
        const state = withPushFailure(failure.person, this.state('parked', failure, at, attempt));
        if (state !== undefined) states.push(state);
      }
      await this.writeStates(states, summary);
      return;
    }
    const delay = retryDelayMs(attempt, this.retry, this.deps.random);
    const scheduledAt = new Date(now.getTime() + delay);
    const message: PushRetryMessage = {
      type: 'push-retry',
      persons: failures.map((f) => ({ id: f.person.id, signature: f.signature })),
      attempt,
      firstFailedAt: options.firstFailedAt ?? at,
      lastError: { code: first.code, message: first.message.slice(0, 2000) },
      ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
    };
    // Scheduled before marking the people: if this throws, the invocation fails and is retried whole.
    await this.deps.retries.schedule(message, scheduledAt);
    for (const failure of failures) {
      summary.retrying += 1;
      summary.outcomes.set(failure.person.id, 'retrying');
      const state = withPushFailure(failure.person, {
        ...this.state('retrying', failure, at, attempt),
        nextAttemptAt: scheduledAt.toISOString(),
      });
      if (state !== undefined) states.push(state);
    }
    this.deps.log.warn('push deferred to the retry queue', {
      persons: failures.length,
      attempt,
      delayMs: delay,
      code: first.code,
    });
    await this.writeStates(states, summary);
  }

  private state(status: PushState['status'], failure: Failure, at: string, attempt?: number): PushState {
    return {
      status,
      code: failure.code,
      message: failure.message.slice(0, 1000),
      at,
      signature: failure.signature,
      ...(attempt !== undefined ? { attempt } : {}),
    };
  }

  /** The sync error of a push that did not go through (the fields that failed, never their values). */
  private async recordError(
    failure: Failure,
    at: string,
    options: PushRunOptions,
    as: { code: string; message: string } = failure,
  ): Promise<void> {
    await this.deps.errors.record({
      entity: failure.table,
      recordId: failure.person.id,
      operation: 'push',
      code: as.code,
      message: as.message,
      ...(failure.fields !== undefined ? { excerpt: `fields: ${failure.fields.join(', ')}` } : {}),
      at,
      ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
    });
  }

  /**
   * Failure states are advisory: a document changed meanwhile is left alone, because that newer
   * version is delivered again and planned afresh.
   */
  private async writeStates(states: PersonRecord[], summary: PushSummary): Promise<void> {
    if (states.length === 0) return;
    const outcome = await this.deps.people.write(states);
    summary.cosmosWrites += outcome.written;
  }

  private failure(item: WorkItem, error?: DataverseError): Failure {
    return {
      person: item.person,
      table: item.table,
      signature: item.signature,
      code: error?.code ?? 'failed',
      message: error?.message ?? 'push failed',
    };
  }
}
