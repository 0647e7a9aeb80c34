import {
  listFactsOf,
  listRequestsOf,
  memberRowFor,
  withListResults,
  type ListRequest,
  type ListRequestResult,
} from '../domain/list-request.rules';
import { isPerson, type RecordDocument } from '../domain/record.model';
import type { Logger } from '../telemetry/logger';
import type { ErrorSink, ListMemberGateway, PushRetryScheduler, RecordStore, RowOutcome } from './ports';
import { retryDelayMs } from './push-retry.message';
import { DEFAULT_RETRY_POLICY, type PushRunOptions, type RetryPolicy } from './push.use-case';

export interface ListMembershipDeps {
  lists: ListMemberGateway;
  people: RecordStore;
  errors: ErrorSink;
  retries: PushRetryScheduler;
  log: Logger;
  retry?: Partial<RetryPolicy>;
  now?: () => Date;
  random?: () => number;
}

export interface ListMembershipSummary {
  /** People that asked for a change. */
  people: number;
  added: number;
  removed: number;
  /** Refused (unknown or dynamic list, wrong member type, malformed request): recorded, not retried. */
  failed: number;
  /** Left in place for the push-retry queue (Dynamics did not answer). */
  retrying: number;
  /** Dataverse requests made. */
  requests: number;
}

interface Done {
  raw: unknown;
  result: ListRequestResult;
  listName?: string | null;
}

const MAX_RECORD_ATTEMPTS = 5;

/** People whose requests are carried out at once (the governor still caps all Dataverse traffic). */
const LANES = 4;

/** The push-retry signature of a person whose list changes wait (no field edit has this one). */
export const LIST_REQUESTS_SIGNATURE = 'list-requests';

/**
 * Carries out marketing-side list membership changes (`listRequests` on a person) in Dynamics,
 * one at a time and in order: the list is read first (it must exist, be static and active, and hold
 * rows of the person's table), then AddMemberList or RemoveMemberList, both idempotent in Dynamics,
 * so a request carried out twice (a crash before it was recorded) changes nothing the second time.
 * Refusals are recorded on the person and as sync errors and never retried; a request Dynamics did
 * not answer stays on the person for the push-retry queue, with the pusher's backoff.
 */
export class ListMembershipUseCase {
  private readonly now: () => Date;
  private readonly retry: RetryPolicy;

  constructor(private readonly deps: ListMembershipDeps) {
    this.now = deps.now ?? (() => new Date());
    this.retry = { ...DEFAULT_RETRY_POLICY, ...(deps.retry ?? {}) };
  }

  async run(raws: readonly unknown[], options: PushRunOptions = {}): Promise<ListMembershipSummary> {
    const summary: ListMembershipSummary = {
      people: 0,
      added: 0,
      removed: 0,
      failed: 0,
      retrying: 0,
      requests: 0,
    };
    // The feed may hold several versions of one person: the last one is the newest.
    const latest = new Map<string, Record<string, unknown>>();
    for (const raw of raws) {
      if (typeof raw !== 'object' || raw === null) continue;
      const doc = raw as Record<string, unknown>;
      if (doc.entity === 'person' && typeof doc.id === 'string') latest.set(doc.id, doc);
    }
    const waiting: { id: string; code: string; message: string }[] = [];
    // A list is read once per run, however many people join or leave it.
    const lists = new Map<string, Promise<RowOutcome>>();
    const person = async (doc: Record<string, unknown>) => {
      const requests = listRequestsOf(doc);
      // Not in Dynamics yet: the requests wait until "sync person to Dynamics" has linked it.
      if (requests === undefined || typeof doc.dynamics !== 'object' || doc.dynamics === null) return;
      summary.people += 1;
      const done: Done[] = [];
      let stopped: { code: string; message: string } | undefined;
      // In order: a person's "add" then "remove" of one list must end with the person off it.
      for (const parsed of requests) {
        if (!parsed.ok) {
          done.push(this.failed(parsed.raw, undefined, 'invalid_request', parsed.message));
          continue;
        }
        const outcome = await this.carryOut(doc, parsed.request, summary, lists);
        if (outcome.kind === 'transient') {
          stopped = outcome;
          break;
        }
        done.push({ ...outcome.done, raw: parsed.raw });
      }
      await this.record(String(doc.id), doc, done, summary, options);
      if (stopped !== undefined) waiting.push({ id: String(doc.id), ...stopped });
    };
    const queue = [...latest.values()];
    const lane = async () => {
      for (let doc = queue.shift(); doc !== undefined; doc = queue.shift()) await person(doc);
    };
    await Promise.all(Array.from({ length: Math.min(LANES, Math.max(1, queue.length)) }, lane));
    await this.defer(waiting, summary, options);
    return summary;
  }

  private async carryOut(
    doc: Record<string, unknown>,
    request: ListRequest,
    summary: ListMembershipSummary,
    lists: Map<string, Promise<RowOutcome>>,
  ): Promise<
    { kind: 'done'; done: Omit<Done, 'raw'> } | { kind: 'transient'; code: string; message: string }
  > {
    let reading = lists.get(request.listId);
    if (reading === undefined) {
      summary.requests += 1;
      reading = this.deps.lists.readList(request.listId);
      lists.set(request.listId, reading);
    }
    const read = await reading;
    // Not kept: the next person asks again.
    if (read.kind === 'transient') lists.delete(request.listId);
    if (read.kind === 'transient')
      return { kind: 'transient', code: read.error.code, message: read.error.message };
    if (read.kind !== 'accepted') {
      const unknown = read.kind === 'rejected' && read.error.code === 'not_found';
      return {
        kind: 'done',
        done: this.failed(
          undefined,
          request,
          unknown ? 'unknown_list' : read.kind === 'rejected' ? read.error.code : 'rejected',
          unknown
            ? `list ${request.listId} does not exist in Dynamics (deleted, or an id from another organisation); choose an existing static list`
            : `list ${request.listId} could not be read: ${read.kind === 'rejected' ? read.error.message : read.kind}`,
        ),
      };
    }
    const list = listFactsOf(read.body);
    if (list === undefined) {
      return {
        kind: 'transient',
        code: 'bad_response',
        message: `Dynamics returned an unreadable list ${request.listId}`,
      };
    }
    const member = memberRowFor(
      doc.dynamics as { leadId?: string; contactId?: string },
      list,
      request.action,
    );
    if (!member.ok)
      return { kind: 'done', done: this.failed(undefined, request, member.code, member.message) };
    summary.requests += 1;
    const change = { listId: list.id, entityId: member.entityId };
    const outcome: RowOutcome =
      request.action === 'add'
        ? await this.deps.lists.addListMember(change)
        : await this.deps.lists.removeListMember(change);
    if (outcome.kind === 'transient')
      return { kind: 'transient', code: outcome.error.code, message: outcome.error.message };
    if (outcome.kind === 'rejected') {
      return {
        kind: 'done',
        done: this.failed(
          undefined,
          request,
          outcome.error.code,
          `Dynamics refused to ${request.action} the person ${request.action === 'add' ? 'to' : 'from'} list "${list.name ?? list.id}": ${outcome.error.message}`,
        ),
      };
    }
    if (request.action === 'add') summary.added += 1;
    else summary.removed += 1;
    return {
      kind: 'done',
      done: {
        result: {
          listId: list.id,
          action: request.action,
          outcome: request.action === 'add' ? 'added' : 'removed',
          at: this.now().toISOString(),
        },
        listName: list.name,
      },
    };
  }

  private failed(raw: unknown, request: ListRequest | undefined, code: string, message: string): Done {
    const source = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const listId = request?.listId ?? (typeof source.listId === 'string' ? source.listId : '');
    const action = request?.action ?? (source.action === 'remove' ? 'remove' : 'add');
    return {
      raw,
      result: { listId, action, outcome: 'failed', code, message, at: this.now().toISOString() },
    };
  }

  /** Writes the outcome on the person under its _etag; a person changed meanwhile is read again. */
  private async record(
    id: string,
    doc: Record<string, unknown>,
    done: readonly Done[],
    summary: ListMembershipSummary,
    options: PushRunOptions,
  ): Promise<void> {
    if (done.length === 0) return;
    for (const { result } of done) {
      if (result.outcome !== 'failed') continue;
      summary.failed += 1;
      await this.deps.errors.record({
        entity: 'person',
        recordId: id,
        operation: 'push',
        code: result.code ?? 'failed',
        message: `list membership not changed: ${result.message ?? ''}`.slice(0, 1000),
        excerpt: `${result.action} list ${result.listId || '(none)'}`,
        at: result.at,
        ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
      });
    }
    let current: Record<string, unknown> | undefined = doc;
    for (let attempt = 1; current !== undefined; attempt += 1) {
      const next = withListResults(current, done) as RecordDocument;
      const outcome = await this.deps.people.write([next]);
      if (outcome.conflicts.length === 0) return;
      if (attempt >= MAX_RECORD_ATTEMPTS) {
        // Dynamics has the changes; the requests are carried out again (idempotently) next delivery.
        this.deps.log.warn('list changes recorded late: the person kept changing', { id });
        return;
      }
      const found = (await this.deps.people.findForPage([id])).docs.find((d) => d.id === id && isPerson(d));
      current = found as Record<string, unknown> | undefined;
    }
  }

  /** People whose requests Dynamics did not answer: a push-retry message, or given up after the last attempt. */
  private async defer(
    waiting: readonly { id: string; code: string; message: string }[],
    summary: ListMembershipSummary,
    options: PushRunOptions,
  ): Promise<void> {
    const first = waiting[0];
    if (first === undefined) return;
    const now = this.now();
    const attempt = (options.attempt ?? 0) + 1;
    if (attempt > this.retry.maxAttempts) {
      for (const person of waiting) {
        summary.failed += 1;
        await this.deps.errors.record({
          entity: 'person',
          recordId: person.id,
          operation: 'push',
          code: 'parked',
          message:
            `list membership changes gave up after ${attempt} attempts; last error ${person.code}: ${person.message}`.slice(
              0,
              1000,
            ),
          at: now.toISOString(),
        });
      }
      return;
    }
    summary.retrying += waiting.length;
    await this.deps.retries.schedule(
      {
        type: 'push-retry',
        persons: waiting.map((person) => ({ id: person.id, signature: LIST_REQUESTS_SIGNATURE })),
        attempt,
        firstFailedAt: options.firstFailedAt ?? now.toISOString(),
        lastError: { code: first.code, message: first.message.slice(0, 2000) },
        ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
      },
      new Date(now.getTime() + retryDelayMs(attempt, this.retry, this.deps.random)),
    );
  }
}
