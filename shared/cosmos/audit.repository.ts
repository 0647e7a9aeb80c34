import { randomUUID } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { AUDIT_TTL_SECONDS, auditEntrySchema, type AuditEntry } from '../domain/audit.model';
import type { AuditTrail } from '../sync/ports';
import { CosmosStoreError } from './cosmos.errors';

/** The audit partition of sync-state: a handful of writes per operator action, read newest first. */
export class AuditRepository implements AuditTrail {
  constructor(private readonly container: Container) {}

  async record(entry: Omit<AuditEntry, 'id' | 'entity' | 'type' | 'ttl'>): Promise<void> {
    const doc = auditEntrySchema.parse({
      ...entry,
      id: `audit:${entry.at}:${randomUUID()}`,
      entity: 'audit',
      type: 'audit',
      ttl: AUDIT_TTL_SECONDS,
    });
    try {
      await this.container.items.create(doc);
    } catch (error) {
      throw CosmosStoreError.from(error, 'recording an operator action in the audit trail');
    }
  }

  async page(
    limit: number,
    continuation?: string,
  ): Promise<{ entries: AuditEntry[]; continuation?: string }> {
    try {
      const iterator = this.container.items.query<unknown>(
        { query: "SELECT * FROM c WHERE c.entity = 'audit' AND c.type = 'audit' ORDER BY c.at DESC" },
        {
          partitionKey: 'audit',
          maxItemCount: limit,
          ...(continuation !== undefined ? { continuationToken: continuation } : {}),
        },
      );
      const page = await iterator.fetchNext();
      const entries = (page.resources ?? []).flatMap((doc) => {
        const parsed = auditEntrySchema.safeParse(doc);
        return parsed.success ? [parsed.data] : [];
      });
      return {
        entries,
        ...(page.hasMoreResults && page.continuationToken !== undefined
          ? { continuation: page.continuationToken }
          : {}),
      };
    } catch (error) {
      throw CosmosStoreError.from(error, 'reading the audit trail');
    }
  }
}
