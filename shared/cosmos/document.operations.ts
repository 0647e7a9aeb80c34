import type { Container, SqlParameter } from '@azure/cosmos';
import { describeIssues } from '../errors/app.errors';
import type { z } from 'zod';
import { CosmosStoreError } from './cosmos.errors';

/**
 * Runs a query inside one partition and keeps the documents that pass the schema: a malformed
 * document must not break a listing or a status page, so it is skipped, never thrown. A failure of
 * the query itself is our error with `doing` in its message.
 */
export async function queryPartition<T>(
  container: Container,
  partition: string,
  query: string,
  parameters: SqlParameter[],
  schema: z.ZodType<T>,
  doing: string,
): Promise<T[]> {
  try {
    const { resources } = await container.items
      .query<unknown>({ query, parameters }, { partitionKey: partition })
      .fetchAll();
    return resources.flatMap((doc) => {
      const parsed = schema.safeParse(doc);
      return parsed.success ? [parsed.data] : [];
    });
  } catch (error) {
    throw CosmosStoreError.from(error, doing);
  }
}

/**
 * Small state documents guarded by their _etag (checkpoints): read and validated, and saved only if
 * still the version read, so two writers of one state cannot both win.
 */
export class StateDocuments<T extends { id: string; entity: string }> {
  constructor(
    private readonly container: Container,
    private readonly schema: z.ZodType<T>,
  ) {}

  /**
   * The document, or undefined when there is none. One that fails its schema is an error that names
   * the fields, since the caller's state would be wrong without it.
   */
  async read(id: string, partition: string, what: string): Promise<T | undefined> {
    let resource: Record<string, unknown> | undefined;
    try {
      const response = await this.container.item(id, partition).read<Record<string, unknown>>();
      if (response.statusCode === 404) return undefined;
      resource = response.resource;
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return undefined;
      throw CosmosStoreError.from(error, `reading the ${what}`);
    }
    if (resource === undefined) return undefined;
    const parsed = this.schema.safeParse(resource);
    if (!parsed.success) {
      throw new CosmosStoreError(
        'invalid_document',
        `the ${what} is malformed (${describeIssues(parsed.error.issues)}); delete it to start that state afresh`,
      );
    }
    return parsed.data;
  }

  /**
   * Saves the document if it is still the version read (`etag`), or creates it if none was read. The
   * loser of a race gets a retryable `precondition_failed` that says what happened (`lost`); the
   * winner gets the body back with its new _etag.
   */
  async save(body: T, etag: string | undefined, what: string, lost: string): Promise<T & { _etag?: string }> {
    try {
      const response =
        etag === undefined
          ? await this.container.items.create(body)
          : await this.container
              .item(body.id, body.entity)
              .replace(body, { accessCondition: { type: 'IfMatch', condition: etag } });
      const newEtag = response.resource?._etag ?? response.etag;
      return { ...body, ...(newEtag ? { _etag: newEtag } : {}) };
    } catch (error) {
      const status = (error as { code?: unknown }).code;
      if (status === 412 || status === 409) {
        throw new CosmosStoreError('precondition_failed', lost, { status, retryable: true, cause: error });
      }
      throw CosmosStoreError.from(error, `saving the ${what}`);
    }
  }
}
