import type { Container } from '@azure/cosmos';
import { CosmosStoreError } from './cosmos.errors';

export interface ChangeCursor {
  /** `_ts` (seconds) of the newest change delivered. */
  ts: number;
  /** `id:_etag` of the versions already delivered at `ts`; `_ts` has one-second resolution. */
  seen: string[];
}

export interface ChangeDocument {
  id: string;
  _ts: number;
  _etag: string;
  [key: string]: unknown;
}

/**
 * A change source for stores without a usable change feed (the local Cosmos stand-in): a query
 * ordered by `_ts`, resumed from a cursor. Like the change feed it yields the latest version of
 * each changed document, never deletions; unlike it, it is safe to replay from an older cursor.
 */
export class TsChangePoller {
  constructor(
    private readonly container: Container,
    private cursor: ChangeCursor,
  ) {}

  static startingNow(container: Container, now = Date.now()): TsChangePoller {
    return new TsChangePoller(container, { ts: Math.floor(now / 1000), seen: [] });
  }

  static fromBeginning(container: Container): TsChangePoller {
    return new TsChangePoller(container, { ts: 0, seen: [] });
  }

  get position(): ChangeCursor {
    return { ts: this.cursor.ts, seen: [...this.cursor.seen] };
  }

  /** Reads changes after the cursor, up to `maxItems`, without moving the cursor. */
  async peek(maxItems: number): Promise<ChangeDocument[]> {
    const seen = new Set(this.cursor.seen);
    const out: ChangeDocument[] = [];
    try {
      const iterator = this.container.items.query<ChangeDocument>(
        {
          query: 'SELECT * FROM c WHERE c._ts >= @ts ORDER BY c._ts ASC',
          parameters: [{ name: '@ts', value: this.cursor.ts }],
        },
        // One page covers the versions already seen at the cursor's second plus the new ones: every
        // further page is another execution of the query (on the stand-in, another scan and sort).
        { maxItemCount: Math.max(maxItems, 100) + seen.size },
      );
      while (out.length < maxItems && iterator.hasMoreResults()) {
        const { resources } = await iterator.fetchNext();
        for (const doc of resources ?? []) {
          if (doc._ts === this.cursor.ts && seen.has(`${doc.id}:${doc._etag}`)) continue;
          out.push(doc);
          if (out.length >= maxItems) break;
        }
      }
    } catch (error) {
      throw CosmosStoreError.from(error, `polling ${this.container.id} for changes`);
    }
    return out;
  }

  /** Moves the cursor past documents that were handled (call after a successful delivery). */
  advance(delivered: readonly ChangeDocument[]): void {
    for (const doc of delivered) {
      if (doc._ts > this.cursor.ts) this.cursor = { ts: doc._ts, seen: [] };
      if (doc._ts === this.cursor.ts) this.cursor.seen.push(`${doc.id}:${doc._etag}`);
    }
  }
}
