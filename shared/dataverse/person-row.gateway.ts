import type { EntityProfile } from '../domain/entity.profile';
import type { PersonRowGateway, RowOutcome, RowRead, RowUpdate } from '../sync/ports';
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

const rowUrl = (profile: EntityProfile, rowId: string) =>
  `${rowPath(profile, rowId)}?$select=${profile.select.join(',')}`;
