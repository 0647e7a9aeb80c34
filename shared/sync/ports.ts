import type { AuditEntry } from '../domain/audit.model';
import type { Checkpoint } from '../domain/checkpoint.state';
import type { DirectoryOwner } from '../domain/owner.rules';
import type { EntityProfile } from '../domain/entity.profile';
import type { RowCounts } from '../domain/page.tally';
import type { PushBacklog } from '../domain/push.planner';
import type { GenericRecord, RecordDocument } from '../domain/record.model';
import type { RunRecord } from '../domain/run-record.model';
import type { VerifyResult } from '../domain/verify-result.model';
import type { EntityStatusRecord, HourTotals } from '../domain/entity-status.model';
import type { ErrorPage, ErrorSearch, SyncErrorInput, SyncErrorRecord } from '../domain/sync-error.model';
import type { DataverseError } from '../dataverse/dataverse.errors';
import type { PushRetryMessage } from './push-retry.message';

/*
 * The ports the use cases depend on. Each has one adapter per technology (Dataverse, Cosmos DB,
 * Service Bus) and an in-memory one for tests and benchmarks. Every method is required: a wrapper
 * that forgets one does not compile, where an optional method would quietly change behaviour.
 */

// ---------------------------------------------------------------- the Dataverse delta feed

export interface DeletedRow {
  id: string;
  reason?: string;
}

export interface ChangePage {
  /** New and updated rows, raw, with @odata.etag and annotations. */
  rows: Record<string, unknown>[];
  deleted: DeletedRow[];
  nextLink?: string;
  deltaLink?: string;
  /** True when this page answers a deltaLink (changes since a token) rather than an initial load. */
  isDelta: boolean;
}

export interface ReadChangesOptions {
  entitySet: string;
  select: string[];
  /** At most 5000 (the default). */
  pageSize?: number;
  /** A saved nextLink or deltaLink; the read resumes exactly there. */
  resumeLink?: string;
}

export interface ModifiedSinceOptions {
  entitySet: string;
  select: string[];
  since: Date;
  pageSize?: number;
  /** A tie-breaker (the primary key) keeps paging stable when many rows share a modifiedon. */
  keyColumn?: string;
}

export interface ModifiedPage {
  rows: Record<string, unknown>[];
  nextLink?: string;
}

export interface ReadRowsOptions {
  entitySet: string;
  select: string[];
  keyColumn: string;
  /** Row ids (GUIDs); rows that no longer exist are simply not returned. */
  ids: readonly string[];
}

/** One createdon range of a parallel first load (bounds as Dataverse returned them; see LoadPartition). */
export interface ReadRangeOptions {
  entitySet: string;
  select: string[];
  /** createdon ge from; createdon lt to; `nulls`: only rows without a createdon; none: every row. */
  range: { from?: string; to?: string; nulls?: boolean };
  pageSize?: number;
  /** A saved nextLink of this range; the read resumes exactly there. */
  resumeLink?: string;
}

/** The delta feed of one table, and the catch-up query after a first load (ChangeTrackingReader). */
export interface ChangeSource {
  readChanges(options: ReadChangesOptions): AsyncIterable<ChangePage>;
  queryModifiedSince(options: ModifiedSinceOptions): AsyncIterable<ModifiedPage>;
  /** The rows of one createdon range, by an ordinary query in pages (a partition of a parallel load). */
  readRange(options: ReadRangeOptions): AsyncIterable<ModifiedPage>;
  /** Exactly these rows, as they are now, in pages (an operator's retry of rows that failed). */
  readRows(options: ReadRowsOptions): AsyncIterable<ModifiedPage>;
}

/** Which Dynamics organisation answers (WhoAmI's OrganizationId): a sandbox refresh or copy changes it. */
export interface OrganizationIdentity {
  organizationId(): Promise<string>;
}

// ---------------------------------------------------------------- the marketing database

export interface InvalidDocument {
  id: string;
  etag: string | undefined;
  message: string;
  /** The stored document as read (a marketing person not linked to Dynamics yet is not a record). */
  raw?: Record<string, unknown>;
}

export interface FoundDocuments {
  docs: RecordDocument[];
  /** Stored documents that fail the schema: reported, and replaced by the next Dynamics version. */
  invalid: InvalidDocument[];
}

export interface WriteOutcome {
  written: number;
  /** Ids whose stored version changed since it was read (or that appeared meanwhile): re-plan them. */
  conflicts: string[];
}

/** The records of one container (RecordRepository, InMemoryRecordStore). */
export interface RecordStore {
  /** The documents of a page's rows: by id, and for people also by the lead and contact ids they hold. */
  findForPage(ids: readonly string[]): Promise<FoundDocuments>;
  /** Optimistic writes: a replace needs the _etag read (on the document or in knownEtags), a create an unused id. */
  write(docs: readonly RecordDocument[], knownEtags?: ReadonlyMap<string, string>): Promise<WriteOutcome>;
  /** One stored document as it is, unvalidated (a marketing-only person is no record yet); undefined if none. */
  read(id: string): Promise<Record<string, unknown> | undefined>;
  /** Pages through the records holding a row of the entity (the deletion pass after a resync). */
  recordsOf(entity: string): AsyncIterable<FoundDocuments>;
  /** Whether any stored document holds a row of the entity: a first load into none writes create-only. */
  hasRecordsOf(entity: string): Promise<boolean>;
  /** The person registered to hold each of these rows under another id; rows without one are absent. */
  aliasesOf(rowIds: readonly string[]): Promise<ReadonlyMap<string, string>>;
  /** Registers a row a person is about to hold under another id, before the person is written. */
  registerAlias(rowId: string, personId: string): Promise<void>;
  /** Documents per write call the store prefers (undefined: one call per page). */
  readonly preferredWriteBatch: number | undefined;
}

/** One container's documents older than a schema version (`dynamics-sync migrate`). */
export interface DocumentMigrationStore {
  /** Up to `limit` stored documents written before `version`, raw, with their _etag. */
  outdated(version: number, limit: number): Promise<Record<string, unknown>[]>;
  /** Replaces the document if it is still the version read (its _etag); false if it changed meanwhile. */
  replace(doc: Record<string, unknown>): Promise<boolean>;
}

/** The synced users and teams (the directory container), as owners of rows. */
export interface OwnerDirectory {
  /** The owners with these ids the directory holds; ids it does not know are absent. */
  byIds(ids: readonly string[]): Promise<ReadonlyMap<string, DirectoryOwner>>;
  /** Users whose primary email is this one (case-insensitive), enabled ones first. */
  usersByEmail(email: string): Promise<DirectoryOwner[]>;
}

/** Questions about people that cut across documents (the people container's queries). */
export interface PeopleQueries {
  /**
   * People whose push failed transiently and whose next attempt was due by this time: the retries a
   * lost retry message or an ended CLI run left behind.
   */
  awaitingRetry(dueBy: string): Promise<FoundDocuments>;
  pushBacklog(): Promise<PushBacklog>;
  /** Person documents with this email (a lead and a contact may share one), raw, as stored. */
  byEmail(email: string, limit: number): Promise<Record<string, unknown>[]>;
}

export interface CheckpointStore {
  get(entity: string): Promise<Checkpoint | undefined>;
  /** Saves under the checkpoint's _etag; a concurrent save makes this one fail (retryable). */
  save(checkpoint: Checkpoint): Promise<Checkpoint>;
}

export interface ErrorSink {
  /** Records (or reopens) an error; its id is stable, so a replay updates instead of duplicating. */
  record(error: SyncErrorInput): Promise<unknown>;
  /** Marks the open errors of this operation on these records resolved: the row or edit went through. */
  resolve(
    entity: string,
    recordIds: readonly string[],
    at: string,
    operation: SyncErrorInput['operation'],
  ): Promise<number>;
}

/** The sync errors an operator works through: search, count, read by id. */
export interface ErrorLog extends ErrorSink {
  search(search: ErrorSearch): Promise<ErrorPage>;
  countOpen(entity: string): Promise<number>;
  /** The records with these ids (any entity); ids without a record are absent. */
  byIds(ids: readonly string[]): Promise<SyncErrorRecord[]>;
  /** Open errors of these records (a person's id and its row ids), any entity, newest first. */
  openFor(recordIds: readonly string[]): Promise<SyncErrorRecord[]>;
}

export interface RunSink {
  save(run: RunRecord): Promise<void>;
}

/** Run history as the status page reads it. */
export interface RunHistory extends RunSink {
  status(entity: string): Promise<EntityStatusRecord | undefined>;
  /** Hour totals from this hour (`YYYY-MM-DDTHH`) on, oldest first. */
  totalsSince(entity: string, hour: string): Promise<HourTotals[]>;
  /** The entity's last verify (drift audit); undefined before its first. */
  verifyResult(entity: string): Promise<VerifyResult | undefined>;
  saveVerifyResult(result: VerifyResult): Promise<void>;
}

// ---------------------------------------------------------------- Dynamics rows of people

/** The Dataverse answer to one request of a push, sorted by what the push does next. */
export type RowOutcome =
  | { kind: 'accepted'; body: unknown }
  /** 412: the row changed since the etag the request was conditional on. */
  | { kind: 'conflict' }
  /** 412 on a create-only write: the row exists already. */
  | { kind: 'exists' }
  /** Will fail the same way again (validation, privilege, missing row). */
  | { kind: 'rejected'; error: DataverseError }
  /** May succeed later (throttling, an outage, a batch that did not run). */
  | { kind: 'transient'; error: DataverseError };

export interface RowUpdate {
  profile: EntityProfile;
  rowId: string;
  /** The row version the values were agreed at (If-Match). */
  etag: string;
  body: Record<string, unknown>;
}

export interface RowRead {
  profile: EntityProfile;
  rowId: string;
}

/** A Dynamics owner of a row: a user or a team. */
export interface OwnerRef {
  id: string;
  type: 'systemuser' | 'team';
}

/** A task to create in Dynamics, regarding a person's row. */
export interface TaskRequest {
  regarding: { profile: EntityProfile; rowId: string };
  subject: string;
  description?: string;
  /** ISO 8601 date-time the task is due. */
  dueAt?: string;
  priority?: 0 | 1 | 2;
  owner?: OwnerRef;
}

/**
 * Writes and reads of lead and contact rows for the push, "sync person to Dynamics" and the other
 * person actions. The Dataverse adapter sends each call as one $batch that continues on error;
 * outcomes come back in request order.
 */
export interface PersonRowGateway {
  /** Conditional updates (If-Match), each answered with the row as stored. */
  update(updates: readonly RowUpdate[]): Promise<RowOutcome[]>;
  read(reads: readonly RowRead[]): Promise<RowOutcome[]>;
  /** Create-only (If-None-Match: *) under a chosen id: a retried create cannot make a second row. */
  create(profile: EntityProfile, rowId: string, body: Record<string, unknown>): Promise<RowOutcome>;
  /** Active rows with this email, per profile (one request for all). */
  findActiveByEmail(profiles: readonly EntityProfile[], email: string): Promise<RowOutcome[]>;
  /** The owner's row (a user's `isdisabled` and name, a team's name); `rejected` with not_found when unknown. */
  readOwner(owner: OwnerRef): Promise<RowOutcome>;
  /** Assigns the row to the owner (Change Owner), update-only. */
  assign(profile: EntityProfile, rowId: string, owner: OwnerRef): Promise<RowOutcome>;
  /** Creates a task; accepted carries the created task (its `activityid`). */
  createTask(task: TaskRequest): Promise<RowOutcome>;
}

/** A static marketing list's membership change, by the member's row (a lead, contact or account id). */
export interface ListMemberChange {
  listId: string;
  entityId: string;
}

/**
 * Marketing lists in Dynamics, for membership changes made on the marketing side (the Dataverse
 * adapter is the person-row gateway). Each call is one $batch request, answered as a RowOutcome.
 */
export interface ListMemberGateway {
  /** The list as it is now (`listname`, `type`: true when dynamic, `createdfromcode`, `statecode`); not_found when gone. */
  readList(listId: string): Promise<RowOutcome>;
  /** AddMemberList: idempotent, an existing member keeps its one row. */
  addListMember(change: ListMemberChange): Promise<RowOutcome>;
  /** RemoveMemberList: idempotent, removing a non-member succeeds. */
  removeListMember(change: ListMemberChange): Promise<RowOutcome>;
}

/** The options of a choice column as Dynamics defines them. */
export interface ChoiceOptions {
  /** Value -> label; undefined when the column has no option set or it could not be read now. */
  optionsOf(table: string, column: string): Promise<ReadonlyMap<number, string> | undefined>;
}

/**
 * The records that relate people to marketing lists and opportunities, found by what they point
 * at (the relations and opportunities containers' cross-document questions).
 */
export interface RelationQueries {
  /** listmember records whose member is one of these rows (lead, contact or account ids). */
  membersOf(rowIds: readonly string[]): Promise<GenericRecord[]>;
  /** listmember records of these lists. */
  membersOfLists(listIds: readonly string[]): Promise<GenericRecord[]>;
  /** campaignitem records that put one of these lists in a campaign. */
  campaignItemsOfLists(listIds: readonly string[]): Promise<GenericRecord[]>;
  /** campaignitem records of these campaigns. */
  campaignItemsOfCampaigns(campaignIds: readonly string[]): Promise<GenericRecord[]>;
  /** connection records with one of these records at either end. */
  connectionsOf(recordIds: readonly string[]): Promise<GenericRecord[]>;
  /** connection records naming one of these connection roles. */
  connectionsWithRoles(roleIds: readonly string[]): Promise<GenericRecord[]>;
  /** opportunity records whose roles name one of these rows. */
  opportunitiesWithRoles(rowIds: readonly string[]): Promise<GenericRecord[]>;
}

/** Where a push that failed transiently waits for its next attempt. */
export interface PushRetryScheduler {
  schedule(message: PushRetryMessage, at: Date): Promise<void>;
}

/** Every operator action, recorded where the console and `GET /api/audit` show it. */
export interface AuditTrail {
  record(entry: Omit<AuditEntry, 'id' | 'entity' | 'type' | 'ttl'>): Promise<void>;
  page(limit: number, continuation?: string): Promise<{ entries: AuditEntry[]; continuation?: string }>;
}

// ---------------------------------------------------------------- progress of a pull

/** What a pull reports as it goes: the CLI's live progress and the benchmarks count from these. */
export interface PullObserver {
  /** A page of rows and tombstones read from Dynamics (each page is one request). */
  pageRead(entity: string, records: number): void;
  /**
   * A page's rows and tombstones once its writes went through, counted once each by what became of
   * them; rows read but neither (excluded, invalid, a tombstone of a record never stored) are in
   * neither count. Writes that are not of rows read (a resync's end marking rows it did not see as
   * deleted) are not here: see PullStats.markedDeleted.
   */
  rowsSettled(entity: string, counts: RowCounts): void;
  /** A sync error recorded under the entity. */
  errorRecorded(entity: string): void;
}

/** For callers that do not watch progress: the Functions app. */
export const IGNORE_PROGRESS: PullObserver = {
  pageRead: () => undefined,
  rowsSettled: () => undefined,
  errorRecorded: () => undefined,
};

// ---------------------------------------------------------------- the real-time path

/** Who the sync is in Dataverse (WhoAmI): the organisation it reads and its own application user. */
export interface DataverseIdentity {
  whoAmI(): Promise<{ organizationId: string; userId: string }>;
}

/** A webhook step as Dataverse stores it (`sdkmessageprocessingsteps`), bound to a message and a table. */
export interface WebhookStep {
  id: string;
  message: string;
  table: string;
}

/** The webhook service endpoint and its steps, registered through the Web API. */
export interface WebhookRegistry {
  /** The endpoint with this name, if one is registered. */
  findEndpoint(name: string): Promise<{ id: string; url: string; authtype: number } | undefined>;
  createEndpoint(endpoint: WebhookEndpointInput): Promise<string>;
  updateEndpoint(id: string, changes: Partial<WebhookEndpointInput>): Promise<void>;
  deleteEndpoint(id: string): Promise<void>;
  /** Every step whose handler is this endpoint. */
  stepsOf(endpointId: string): Promise<WebhookStep[]>;
  /** The message's id and its filter for the table (looked up by name); undefined when Dataverse has no such pair. */
  messageFilter(message: string, table: string): Promise<{ messageId: string; filterId: string } | undefined>;
  createStep(
    endpointId: string,
    step: { message: string; table: string; messageId: string; filterId: string },
  ): Promise<string>;
  deleteStep(id: string): Promise<void>;
}

export interface WebhookEndpointInput {
  name: string;
  url: string;
  /** 5 HttpHeader (the secret in a header), 4 WebhookKey (the secret as `code`). */
  authtype: number;
  authvalue: string;
}
