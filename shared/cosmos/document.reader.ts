import type { Container } from '@azure/cosmos';
import { CosmosStoreError } from './cosmos.errors';

/**
 * Point reads of raw documents (partition key = id), for callers that validate themselves: a
 * marketing-only person does not pass the synced-person schema yet, and a retry re-reads the
 * latest version of a document by id.
 */
export class DocumentReader {
  constructor(private readonly container: Container) {}

  async read(id: string): Promise<Record<string, unknown> | undefined> {
    try {
      const { resource, statusCode } = await this.container.item(id, id).read<Record<string, unknown>>();
      if (statusCode === 404 || resource === undefined) return undefined;
      return resource;
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return undefined;
      throw CosmosStoreError.from(error, `reading document ${id} from ${this.container.id}`);
    }
  }
}
