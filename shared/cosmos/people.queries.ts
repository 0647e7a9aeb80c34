import type { Container } from '@azure/cosmos';
import { backlogOf, pushStateSchema, type PushBacklog } from '../domain/push.planner';
import { personRecordSchema, type PersonRecord } from '../domain/record.model';
import type { FoundDocuments, PeopleQueries } from '../sync/ports';
import { CosmosStoreError } from './cosmos.errors';

/**
 * The people container's cross-partition questions. Each is served by the container's index in
 * Cosmos DB; the local stand-in scans, which the status benchmark measures.
 */
export class CosmosPeopleQueries implements PeopleQueries {
  constructor(private readonly container: Container) {}

  async awaitingRetry(dueBy: string): Promise<FoundDocuments> {
    const resources = await this.query<Record<string, unknown>>(
      "SELECT * FROM c WHERE c.pushState.status = 'retrying' AND c.pushState.nextAttemptAt <= @dueBy",
      [{ name: '@dueBy', value: dueBy }],
      'looking for pushes awaiting a retry',
    );
    const out: FoundDocuments = { docs: [], invalid: [] };
    for (const resource of resources) {
      const parsed = personRecordSchema.safeParse(resource);
      if (parsed.success) out.docs.push(parsed.data as PersonRecord);
      else
        out.invalid.push({
          id: String(resource.id),
          etag: undefined,
          message: 'not a person record',
          raw: resource,
        });
    }
    return out;
  }

  async pushBacklog(): Promise<PushBacklog> {
    const states = await this.query<{ state?: unknown }>(
      'SELECT c.pushState AS state FROM c WHERE IS_DEFINED(c.pushState)',
      [],
      'counting the push backlog',
    );
    return backlogOf(
      states.map((row) => {
        const parsed = pushStateSchema.safeParse(row.state);
        return parsed.success ? parsed.data : undefined;
      }),
    );
  }

  byEmail(email: string, limit: number): Promise<Record<string, unknown>[]> {
    return this.query(
      // TOP takes a literal: `limit` is a number the route validated, never user text.
      `SELECT TOP ${Math.max(1, Math.floor(limit))} * FROM c WHERE c.entity = 'person' AND LOWER(c.email) = @email`,
      [{ name: '@email', value: email.trim().toLowerCase() }],
      'looking people up by email',
    );
  }

  private async query<T>(
    query: string,
    parameters: { name: string; value: string }[],
    doing: string,
  ): Promise<T[]> {
    try {
      return (await this.container.items.query<T>({ query, parameters }).fetchAll()).resources;
    } catch (error) {
      throw CosmosStoreError.from(error, `${doing} in ${this.container.id}`);
    }
  }
}
