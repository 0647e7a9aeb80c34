import type { Container } from '@azure/cosmos';
import type { DocumentMigrationStore } from '../sync/ports';
import { CosmosStoreError } from './cosmos.errors';

const SYSTEM_PROPERTIES = ['_rid', '_self', '_ts', '_attachments', '_etag', '_lsn'];

/** A record container's documents of older schema versions, found by the container's index. */
export class DocumentMigrationRepository implements DocumentMigrationStore {
  constructor(private readonly container: Container) {}

  async outdated(version: number, limit: number): Promise<Record<string, unknown>[]> {
    // TOP takes a literal: both numbers come from the code, never from a caller's text.
    const query = `SELECT TOP ${Math.max(1, Math.floor(limit))} * FROM c WHERE NOT IS_DEFINED(c.schemaVersion) OR c.schemaVersion < @version`;
    try {
      const { resources } = await this.container.items
        .query<Record<string, unknown>>({ query, parameters: [{ name: '@version', value: version }] })
        .fetchAll();
      return resources;
    } catch (error) {
      throw CosmosStoreError.from(error, `looking for documents to migrate in ${this.container.id}`);
    }
  }

  async replace(doc: Record<string, unknown>): Promise<boolean> {
    const id = String(doc.id);
    const etag = typeof doc._etag === 'string' ? doc._etag : undefined;
    const body: Record<string, unknown> = { ...doc };
    for (const key of SYSTEM_PROPERTIES) delete body[key];
    try {
      await this.container
        .item(id, id)
        .replace(body, etag !== undefined ? { accessCondition: { type: 'IfMatch', condition: etag } } : {});
      return true;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 412 || code === 404) return false;
      throw CosmosStoreError.from(error, `migrating document ${id} in ${this.container.id}`);
    }
  }
}
