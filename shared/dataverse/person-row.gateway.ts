import type { EntityProfile } from '../domain/entity.profile';
import type { OwnerRef, PersonRowGateway, RowOutcome, RowRead, RowUpdate, TaskRequest } from '../sync/ports';
import type { BatchEntry, BatchItemResult, BatchRequest } from './batch.codec';
import type { BatchOptions } from './dataverse.client';
import { isDataverseError, mapHttpError, type DataverseError } from './dataverse.errors';
import { and, encodeQuery, eq } from './odata.query';

/** What the gateway needs of the client (DataverseClient satisfies it). */
export interface BatchExecutor {
  executeBatch(entries: readonly BatchEntry[], options?: BatchOptions): Promise<BatchItemResult[]>;
}

/** Writes return the stored row (new etag and version, values as Dataverse normalised them). */
const PREFER_WRITE = 'return=representation,odata.include-annotations="*"';
const PREFER_READ = 'odata.include-annotations="*"';

/**
 * Lead and contact rows of the push and of "sync person to Dynamics", over the Web API: every call
 * is one $batch that continues on error, so one refused row never holds up the others, and each
 * answer is sorted into the outcome the use case acts on. A batch that fails as a whole (throttled
 * past the governor's retries, an outage) makes every request in it transient.
 */
export class DataversePersonRowGateway implements PersonRowGateway {
  constructor(private readonly client: BatchExecutor) {}

  update(updates: readonly RowUpdate[]): Promise<RowOutcome[]> {
    return this.send(
      updates.map(({ profile, rowId, etag, body }) => ({
        method: 'PATCH',
        url: rowUrl(profile, rowId),
        headers: { 'If-Match': etag, Prefer: PREFER_WRITE },
        body,
      })),
      updates.map(({ profile, rowId }) => rowPath(profile, rowId)),
    );
  }

  read(reads: readonly RowRead[]): Promise<RowOutcome[]> {
    return this.send(
      reads.map(({ profile, rowId }) => ({
        method: 'GET',
        url: rowUrl(profile, rowId),
        headers: { Prefer: PREFER_READ },
      })),
      reads.map(({ profile, rowId }) => rowPath(profile, rowId)),
    );
  }

  async create(profile: EntityProfile, rowId: string, body: Record<string, unknown>): Promise<RowOutcome> {
    // PATCH with If-None-Match: * is a create under our id that refuses to overwrite an existing row.
    const [outcome] = await this.send(
      [
        {
          method: 'PATCH',
          url: rowUrl(profile, rowId),
          headers: { 'If-None-Match': '*', Prefer: PREFER_WRITE },
          body,
        },
      ],
      [rowPath(profile, rowId)],
    );
    return outcome ?? notExecuted(rowPath(profile, rowId), 'PATCH');
  }

  findActiveByEmail(profiles: readonly EntityProfile[], email: string): Promise<RowOutcome[]> {
    return this.send(
      profiles.map((profile) => ({
        method: 'GET',
        url: `${profile.entitySet}?${encodeQuery({
          $select: profile.select.join(','),
          // The literal is quoted by eq(): user text never becomes part of the filter's syntax.
          $filter: and(eq('emailaddress1', email), eq('statecode', 0)),
          $top: 1,
        })}`,
        headers: { Prefer: PREFER_READ },
      })),
      profiles.map((profile) => profile.entitySet),
    );
  }

  async readOwner(owner: OwnerRef): Promise<RowOutcome> {
    const path = `${ownerSet(owner)}(${owner.id})`;
    const select = owner.type === 'systemuser' ? 'systemuserid,fullname,isdisabled' : 'teamid,name';
    const [outcome] = await this.send(
      [{ method: 'GET', url: `${path}?$select=${select}`, headers: { Prefer: PREFER_READ } }],
      [path],
    );
    return outcome ?? notExecuted(path, 'GET');
  }

  async assign(profile: EntityProfile, rowId: string, owner: OwnerRef): Promise<RowOutcome> {
    // If-Match: * makes the PATCH update-only: assigning a row that was deleted must not create it.
    const [outcome] = await this.send(
      [
        {
          method: 'PATCH',
          url: rowUrl(profile, rowId),
          headers: { 'If-Match': '*', Prefer: PREFER_WRITE },
          body: { 'ownerid@odata.bind': `/${ownerSet(owner)}(${owner.id})` },
        },
      ],
      [rowPath(profile, rowId)],
    );
    return outcome ?? notExecuted(rowPath(profile, rowId), 'PATCH');
  }

  async createTask(task: TaskRequest): Promise<RowOutcome> {
    const regarding = task.regarding.profile.logicalName;
    const body: Record<string, unknown> = {
      subject: task.subject,
      // The navigation property of task's regarding lookup is per target table.
      [`regardingobjectid_${regarding}_task@odata.bind`]: `/${task.regarding.profile.entitySet}(${task.regarding.rowId})`,
      ...(task.description !== undefined ? { description: task.description } : {}),
      ...(task.dueAt !== undefined ? { scheduledend: task.dueAt } : {}),
      ...(task.priority !== undefined ? { prioritycode: task.priority } : {}),
      ...(task.owner !== undefined
        ? { 'ownerid@odata.bind': `/${ownerSet(task.owner)}(${task.owner.id})` }
        : {}),
    };
    const [outcome] = await this.send(
      [
        {
          method: 'POST',
          url: 'tasks?$select=activityid,subject,scheduledend',
          headers: { Prefer: PREFER_WRITE },
          body,
        },
      ],
      ['tasks'],
    );
    return outcome ?? notExecuted('tasks', 'POST');
  }

  private async send(entries: BatchRequest[], paths: readonly string[]): Promise<RowOutcome[]> {
    let results: BatchItemResult[];
    try {
      results = await this.client.executeBatch(entries, { continueOnError: true });
    } catch (error) {
      if (!isDataverseError(error)) throw error;
      return entries.map(() => ({ kind: 'transient', error }));
    }
    return entries.map((entry, i) => outcomeOf(results[i], entry, paths[i] ?? '$batch'));
  }
}

function outcomeOf(result: BatchItemResult | undefined, entry: BatchRequest, path: string): RowOutcome {
  const method = entry.method;
  if (result === undefined || !result.executed) return notExecuted(path, method);
  if (result.ok) return { kind: 'accepted', body: result.body };
  const headers = result.headers;
  const error = mapHttpError(
    result.status,
    { get: (name) => headers[name.toLowerCase()] ?? null },
    result.body,
    { method, path },
  );
  // A create-only write refused with 412 is an existing row, however the service words it.
  const createOnly = entry.headers?.['If-None-Match'] === '*';
  if (error.code === 'already_exists' || (createOnly && result.status === 412)) return { kind: 'exists' };
  if (error.code === 'precondition_failed') return { kind: 'conflict' };
  return error.retryable ? { kind: 'transient', error } : { kind: 'rejected', error };
}

function notExecuted(path: string, method: string): RowOutcome {
  const error: DataverseError = mapHttpError(503, { get: () => null }, 'the request was not executed', {
    method,
    path,
  });
  return { kind: 'transient', error };
}

const rowPath = (profile: EntityProfile, rowId: string) => `${profile.entitySet}(${rowId})`;

const ownerSet = (owner: OwnerRef) => (owner.type === 'systemuser' ? 'systemusers' : 'teams');

const rowUrl = (profile: EntityProfile, rowId: string) =>
  `${rowPath(profile, rowId)}?$select=${profile.select.join(',')}`;
