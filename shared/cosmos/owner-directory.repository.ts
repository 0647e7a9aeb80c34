import type { Container } from '@azure/cosmos';
import { upgradeDocument } from '../domain/document.schema';
import { directoryOwner, type DirectoryOwner } from '../domain/owner.rules';
import { genericRecordSchema } from '../domain/record.model';
import type { OwnerDirectory } from '../sync/ports';
import { CosmosStoreError } from './cosmos.errors';

/** Owners from the directory container (synced systemuser and team records). */
export class CosmosOwnerDirectory implements OwnerDirectory {
  constructor(private readonly container: Container) {}

  async byIds(ids: readonly string[]): Promise<ReadonlyMap<string, DirectoryOwner>> {
    const out = new Map<string, DirectoryOwner>();
    if (ids.length === 0) return out;
    const docs = await this.query(
      "SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id) AND (c.entity = 'systemuser' OR c.entity = 'team')",
      [{ name: '@ids', value: ids.map((id) => id.toLowerCase()) }],
      `reading ${ids.length} owners`,
    );
    for (const owner of docs) out.set(owner.id, owner);
    return out;
  }

  async usersByEmail(email: string): Promise<DirectoryOwner[]> {
    const docs = await this.query(
      "SELECT * FROM c WHERE c.entity = 'systemuser' AND LOWER(c.values.internalemailaddress) = @email",
      [{ name: '@email', value: email.trim().toLowerCase() }],
      'looking a user up by email',
    );
    return docs.sort((a, b) => Number(a.disabled) - Number(b.disabled) || a.id.localeCompare(b.id));
  }

  private async query(
    query: string,
    parameters: { name: string; value: string | string[] }[],
    doing: string,
  ): Promise<DirectoryOwner[]> {
    try {
      const { resources } = await this.container.items
        .query<Record<string, unknown>>({ query, parameters })
        .fetchAll();
      return resources.flatMap((resource) => {
        const parsed = genericRecordSchema.safeParse(upgradeDocument(resource));
        const owner = parsed.success ? directoryOwner(parsed.data) : undefined;
        return owner !== undefined ? [owner] : [];
      });
    } catch (error) {
      throw CosmosStoreError.from(error, `${doing} in ${this.container.id}`);
    }
  }
}
