import type { Container, JSONObject, OperationInput } from '@azure/cosmos';
import { BulkOperationType } from '@azure/cosmos';
import { z } from 'zod';
import { CONTAINERS } from '../config/entity.catalog';
import { upgradeDocument, versionToWrite } from '../domain/document.schema';
import { genericRecordSchema, personRecordSchema, type RecordDocument } from '../domain/record.model';
import { AliasRegistry } from './alias.registry';
import { ConcurrencyLimiter } from './concurrency.limiter';
import type { FoundDocuments, RecordStore, WriteOutcome } from '../sync/ports';
import { CosmosStoreError } from './cosmos.errors';

export interface RecordRepositoryOptions {
  /**
   * 'bulk' uses executeBulkOperations for writes of 1000 documents or more and single requests below
   * that; 'parallel' always sends single requests (stores without bulk).
   */
  mode?: 'bulk' | 'parallel';
  /** In-flight single writes in parallel mode, across all concurrent write calls. */
  concurrency?: number;
  kind: 'person' | 'generic';
  /**
   * People only: rows held by a person under another id. Defaults to the registry in the sync-state
   * container of the same database, so the pull and push-create of one app always share it.
   */
  aliases?: AliasRegistry;
}

/**
 * Below this, single requests (16 at a time) finish before the bulk executor's one-second poll
 * would: a push records 100 agreed values per $batch, and as one bulk call each took a second.
 */
const BULK_MIN_DOCUMENTS = 1000;

/** Planned in ~10-15 ms (the in-memory benchmark maps ~50 µs a row): the in-flight writes cover that. */
const PARALLEL_WRITE_BATCH = 256;

const SYSTEM_PROPERTIES = ['_rid', '_self', '_ts', '_attachments', '_etag', '_lsn'];

function withoutSystemProperties(doc: RecordDocument): JSONObject {
  const body: Record<string, unknown> = { ...doc, schemaVersion: versionToWrite(doc) };
  for (const key of SYSTEM_PROPERTIES) delete body[key];
  return body as JSONObject;
}

const statusOf = (error: unknown): number | undefined => {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
};

/**
 * Records of one container. Writes are optimistic: an existing document is replaced only if it is
 * still the version that was read (its _etag), a new one is created only if nobody created it
 * meanwhile. A lost race is returned as a conflict for the caller to re-plan, never overwritten,
 * because lead and contact pulls and marketing edits all write the same people documents.
 */
export class RecordRepository implements RecordStore {
  private mode: 'bulk' | 'parallel';
  private readonly limiter: ConcurrencyLimiter;
  private readonly schema: z.ZodType<RecordDocument>;
  private readonly aliases: AliasRegistry | undefined;

  constructor(
    private readonly container: Container,
    private readonly options: RecordRepositoryOptions,
  ) {
    this.mode = options.mode ?? 'bulk';
    this.limiter = new ConcurrencyLimiter(Math.max(1, Math.floor(options.concurrency ?? 16)));
    this.schema = (
      options.kind === 'person' ? personRecordSchema : genericRecordSchema
    ) as z.ZodType<RecordDocument>;
    this.aliases =
      options.kind === 'person'
        ? (options.aliases ?? new AliasRegistry(container.database.container(CONTAINERS.syncState.id)))
        : undefined;
  }

  /**
   * Documents per write call that keep this store busy while the caller prepares the next call:
   * single writes share one in-flight cap whatever the call size; a bulk call is left whole, since
   * smaller calls would shrink the batches the SDK sends to each partition.
   */
  get preferredWriteBatch(): number | undefined {
    return this.mode === 'parallel' ? PARALLEL_WRITE_BATCH : undefined;
  }

  get writeMode(): 'bulk' | 'parallel' {
    return this.mode;
  }

  /** One query per page: by id, and for people also by the lead and contact ids they carry. */
  async findForPage(ids: readonly string[]): Promise<FoundDocuments> {
    if (ids.length === 0) return { docs: [], invalid: [] };
    const query =
      this.options.kind === 'person'
        ? 'SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id) OR ARRAY_CONTAINS(@ids, c.dynamics.leadId) OR ARRAY_CONTAINS(@ids, c.dynamics.contactId)'
        : 'SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id)';
    try {
      const { resources } = await this.container.items
        .query<Record<string, unknown>>({ query, parameters: [{ name: '@ids', value: [...ids] }] })
        .fetchAll();
      return this.parse(resources);
    } catch (error) {
      throw CosmosStoreError.from(error, `reading ${ids.length} records from ${this.container.id}`);
    }
  }

  /**
   * Whether any document already holds a row of this entity (one TOP 1 query): a load into a store
   * without any may write create-only. People count a lead or contact id held under any document id.
   */
  async hasRecordsOf(entity: string): Promise<boolean> {
    const query =
      this.options.kind === 'person'
        ? {
            query: `SELECT TOP 1 c.id FROM c WHERE IS_DEFINED(c.dynamics.${entity === 'lead' ? 'leadId' : 'contactId'})`,
          }
        : {
            query: 'SELECT TOP 1 c.id FROM c WHERE c.entity = @entity',
            parameters: [{ name: '@entity', value: entity }],
          };
    try {
      const { resources } = await this.container.items.query<unknown>(query).fetchAll();
      return resources.length > 0;
    } catch (error) {
      throw CosmosStoreError.from(error, `looking for ${entity} records in ${this.container.id}`);
    }
  }

  /** The registered person of each of these rows; only people have a registry. */
  async aliasesOf(rowIds: readonly string[]): Promise<ReadonlyMap<string, string>> {
    return this.aliases === undefined ? new Map() : this.aliases.personsOf(rowIds);
  }

  /** Registers a row a person is about to hold under another id; throws if it cannot. */
  async registerAlias(rowId: string, personId: string): Promise<void> {
    if (this.aliases === undefined) {
      throw new CosmosStoreError(
        'failed',
        `${this.container.id} holds no people: no row can be registered to one`,
        {
          retryable: false,
        },
      );
    }
    await this.aliases.register(rowId, personId);
  }

  /**
   * A point read of one raw document (partition key = id), for callers that validate it themselves:
   * a marketing-only person does not pass the synced-person schema yet.
   */
  async read(id: string): Promise<Record<string, unknown> | undefined> {
    try {
      const { resource, statusCode } = await this.container.item(id, id).read<Record<string, unknown>>();
      if (statusCode === 404 || resource === undefined) return undefined;
      return upgradeDocument(resource);
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return undefined;
      throw CosmosStoreError.from(error, `reading document ${id} from ${this.container.id}`);
    }
  }

  /** Pages through the records of one entity (flat memory), for the deletion pass after a resync. */
  async *recordsOf(entity: string, pageSize = 500): AsyncGenerator<FoundDocuments> {
    const query =
      this.options.kind === 'person'
        ? { query: `SELECT * FROM c WHERE IS_DEFINED(c.dynamics.${entity === 'lead' ? 'lead' : 'contact'})` }
        : {
            query: 'SELECT * FROM c WHERE c.entity = @entity',
            parameters: [{ name: '@entity', value: entity }],
          };
    const iterator = this.container.items.query<Record<string, unknown>>(query, { maxItemCount: pageSize });
    try {
      while (iterator.hasMoreResults()) {
        const { resources } = await iterator.fetchNext();
        if (resources.length > 0) yield this.parse(resources);
      }
    } catch (error) {
      throw CosmosStoreError.from(error, `listing ${entity} records in ${this.container.id}`);
    }
  }

  async write(
    docs: readonly RecordDocument[],
    knownEtags?: ReadonlyMap<string, string>,
  ): Promise<WriteOutcome> {
    if (docs.length === 0) return { written: 0, conflicts: [] };
    const operations: OperationInput[] = docs.map((doc) => {
      const etag = doc._etag ?? knownEtags?.get(doc.id);
      const resourceBody = withoutSystemProperties(doc);
      return etag !== undefined
        ? {
            operationType: BulkOperationType.Replace,
            id: doc.id,
            partitionKey: doc.id,
            ifMatch: etag,
            resourceBody,
          }
        : { operationType: BulkOperationType.Create, partitionKey: doc.id, resourceBody };
    });
    // The SDK's bulk executor polls for completion once a second, so a bulk call never takes less than
    // about a second: small writes (an incremental pull, a retry) are faster as single requests.
    const statuses =
      this.mode === 'bulk' && operations.length >= BULK_MIN_DOCUMENTS
        ? await this.bulk(operations)
        : await this.parallel(operations);
    const outcome: WriteOutcome = { written: 0, conflicts: [] };
    let failure: { status: number | undefined; id: string } | undefined;
    statuses.forEach((status, i) => {
      const id = (docs[i] as RecordDocument).id;
      if (status !== undefined && status >= 200 && status < 300) outcome.written += 1;
      else if (status === 409 || status === 412 || status === 404) outcome.conflicts.push(id);
      else failure ??= { status, id };
    });
    if (failure !== undefined) {
      const { status, id } = failure;
      const code =
        status === 429
          ? 'throttled'
          : status === undefined || status >= 500 || status === 408
            ? 'unavailable'
            : 'failed';
      throw new CosmosStoreError(
        code,
        `writing record ${id} to ${this.container.id} failed with status ${status ?? 'none'}`,
        {
          ...(status !== undefined ? { status } : {}),
          // Writes are idempotent (the next attempt re-plans against what was stored), so retrying is safe.
          retryable: code !== 'failed',
        },
      );
    }
    return outcome;
  }

  private async bulk(operations: OperationInput[]): Promise<(number | undefined)[]> {
    try {
      const results = await this.container.items.executeBulkOperations(operations);
      return results.map((result) => result.response?.statusCode ?? statusOf(result.error));
    } catch (error) {
      const status = statusOf(error);
      if (status === 429 || status === undefined || status >= 500) {
        throw CosmosStoreError.from(error, `bulk write to ${this.container.id}`);
      }
      // A store without the bulk API (an emulator, a stand-in) answers the call itself with a 4xx.
      this.mode = 'parallel';
      return this.parallel(operations);
    }
  }

  private parallel(operations: OperationInput[]): Promise<(number | undefined)[]> {
    // single() never rejects: a failed write is a status for write() to sort out.
    return Promise.all(operations.map((operation) => this.limiter.run(() => this.single(operation))));
  }

  private async single(operation: OperationInput): Promise<number | undefined> {
    try {
      if (operation.operationType === BulkOperationType.Replace) {
        const response = await this.container
          .item(operation.id, operation.partitionKey as string)
          .replace(operation.resourceBody, {
            accessCondition: { type: 'IfMatch', condition: operation.ifMatch as string },
          });
        return response.statusCode;
      }
      if (operation.operationType === BulkOperationType.Create) {
        const response = await this.container.items.create(operation.resourceBody);
        return response.statusCode;
      }
      return 400;
    } catch (error) {
      return statusOf(error);
    }
  }

  private parse(resources: Record<string, unknown>[]): FoundDocuments {
    const out: FoundDocuments = { docs: [], invalid: [] };
    for (const stored of resources) {
      // Documents of earlier versions are read in today's shape; the next write stores it.
      const resource = upgradeDocument(stored);
      const parsed = this.schema.safeParse(resource);
      if (parsed.success) out.docs.push(parsed.data);
      else {
        out.invalid.push({
          id: String(resource.id),
          etag: typeof resource._etag === 'string' ? resource._etag : undefined,
          message: parsed.error.issues
            .slice(0, 5)
            .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
            .join('; '),
          raw: resource,
        });
      }
    }
    return out;
  }
}
