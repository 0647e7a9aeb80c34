import type { EntityProfile } from '../domain/entity.profile';
import type {
  ChoiceOptions,
  ListMemberChange,
  ListMemberGateway,
  OwnerRef,
  PersonRowGateway,
  RowOutcome,
  RowRead,
  RowUpdate,
  TaskRequest,
} from '../sync/ports';
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
export class DataversePersonRowGateway implements PersonRowGateway, ListMemberGateway, ChoiceOptions {
  private readonly options = new Map<
    string,
    { at: number; options: Promise<ReadonlyMap<number, string> | undefined> }
  >();

  constructor(
    private readonly client: BatchExecutor,
    private readonly now: () => number = Date.now,
  ) {}

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

  async readList(listId: string): Promise<RowOutcome> {
    const path = `lists(${listId})`;
    return this.one(
      {
        method: 'GET',
        url: `${path}?$select=listid,listname,type,createdfromcode,statecode`,
        headers: { Prefer: PREFER_READ },
      },
      path,
    );
  }

  addListMember(change: ListMemberChange): Promise<RowOutcome> {
    return this.listAction('AddMemberList', change);
  }

  removeListMember(change: ListMemberChange): Promise<RowOutcome> {
    return this.listAction('RemoveMemberList', change);
  }

  /**
   * The column's options from its metadata, kept for OPTIONS_TTL_MS so a push of many people reads
   * them once; a failed read is not kept (undefined now, asked again next time).
   */
  optionsOf(table: string, column: string): Promise<ReadonlyMap<number, string> | undefined> {
    const key = `${table}.${column}`;
    const cached = this.options.get(key);
    if (cached !== undefined && this.now() - cached.at < OPTIONS_TTL_MS) return cached.options;
    const options = this.readOptions(table, column);
    this.options.set(key, { at: this.now(), options });
    void options.then((found) => {
      if (found === undefined) this.options.delete(key);
    });
    return options;
  }

  private async readOptions(table: string, column: string): Promise<ReadonlyMap<number, string> | undefined> {
    const path = `EntityDefinitions(LogicalName='${table}')/Attributes(LogicalName='${column}')`;
    const outcome = await this.one(
      {
        // Multi-select columns are the only ones that need it; other casts answer 404 for them.
        method: 'GET',
        url: `${path}/Microsoft.Dynamics.CRM.MultiSelectPicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet`,
      },
      path,
    );
    if (outcome.kind !== 'accepted') return undefined;
    return optionLabels(outcome.body);
  }

  private listAction(
    action: 'AddMemberList' | 'RemoveMemberList',
    change: ListMemberChange,
  ): Promise<RowOutcome> {
    const path = `lists(${change.listId})/Microsoft.Dynamics.CRM.${action}`;
    return this.one({ method: 'POST', url: path, body: { EntityId: change.entityId } }, path);
  }

  private async one(entry: BatchRequest, path: string): Promise<RowOutcome> {
    const [outcome] = await this.send([entry], [path]);
    return outcome ?? notExecuted(path, entry.method);
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

/** How long a column's options are trusted before they are read again (an option added in Dynamics). */
const OPTIONS_TTL_MS = 5 * 60_000;

/** Value -> label of an attribute's `OptionSet.Options` (the user's label, else the first localized one). */
function optionLabels(body: unknown): ReadonlyMap<number, string> | undefined {
  const options = (body as { OptionSet?: { Options?: unknown } } | undefined)?.OptionSet?.Options;
  if (!Array.isArray(options)) return undefined;
  const out = new Map<number, string>();
  for (const option of options as {
    Value?: unknown;
    Label?: { UserLocalizedLabel?: { Label?: unknown }; LocalizedLabels?: { Label?: unknown }[] };
  }[]) {
    if (typeof option.Value !== 'number') continue;
    const label = option.Label?.UserLocalizedLabel?.Label ?? option.Label?.LocalizedLabels?.[0]?.Label;
    out.set(option.Value, typeof label === 'string' ? label : String(option.Value));
  }
  return out;
}

const rowPath = (profile: EntityProfile, rowId: string) => `${profile.entitySet}(${rowId})`;

const ownerSet = (owner: OwnerRef) => (owner.type === 'systemuser' ? 'systemusers' : 'teams');

const rowUrl = (profile: EntityProfile, rowId: string) =>
  `${rowPath(profile, rowId)}?$select=${profile.select.join(',')}`;
