import type { RecordDocument } from '../domain/record.model';
import { backlogOf, pushStateOf, type PushBacklog } from '../domain/push.planner';
import type { FoundDocuments, PeopleQueries, RecordStore, WriteOutcome } from './ports';

/**
 * A RecordStore in process memory with the repository's optimistic rules: a replace needs the
 * stored _etag, a create fails if the id exists; a lost race is a conflict. Reads hand out copies,
 * so a caller changing what it read cannot change what is stored. For benchmarks and tests that
 * need no Cosmos.
 */
export class InMemoryRecordStore implements RecordStore, PeopleQueries {
  private readonly docs = new Map<string, RecordDocument>();
  /** Lead and contact ids -> person id, the people container's secondary lookups. */
  private readonly aliases = new Map<string, string>();
  /** Rows registered as about to be held under another id (before the person is written): row -> person. */
  private readonly registered = new Map<string, string>();
  private version = 0;
  private sampledChars = 0;
  private sampled = 0;
  writes = 0;
  /** Every write call is one call to the store: no preferred batch. */
  readonly preferredWriteBatch = undefined;

  constructor(private readonly kind: 'person' | 'generic') {}

  get size(): number {
    return this.docs.size;
  }

  /**
   * Estimated JSON size of the stored documents (from a sample of writes): how much of a process's
   * memory is the data rather than the sync. Serializing every document would cost as much as the
   * rest of the write.
   */
  get bytes(): number {
    return this.sampled === 0 ? 0 : Math.round((this.sampledChars / this.sampled) * this.docs.size);
  }

  get(id: string): RecordDocument | undefined {
    const doc = this.docs.get(id);
    return doc === undefined ? undefined : structuredClone(doc);
  }

  async read(id: string): Promise<Record<string, unknown> | undefined> {
    return this.get(id) as Record<string, unknown> | undefined;
  }

  async findForPage(ids: readonly string[]): Promise<FoundDocuments> {
    const found = new Set<string>();
    for (const id of ids) {
      if (this.docs.has(id)) found.add(id);
      const alias = this.aliases.get(id);
      if (alias !== undefined) found.add(alias);
    }
    const docs: RecordDocument[] = [];
    for (const id of found) docs.push(structuredClone(this.docs.get(id) as RecordDocument));
    return { docs, invalid: [] };
  }

  async write(
    docs: readonly RecordDocument[],
    knownEtags?: ReadonlyMap<string, string>,
  ): Promise<WriteOutcome> {
    const outcome: WriteOutcome = { written: 0, conflicts: [] };
    for (const doc of docs) {
      const expected = doc._etag ?? knownEtags?.get(doc.id);
      const current = this.docs.get(doc.id)?._etag;
      if (expected === undefined ? current !== undefined : current !== expected) {
        outcome.conflicts.push(doc.id);
        continue;
      }
      // The writer's object is kept (a shallow copy); a writer hands its page over and drops it.
      const stored = { ...doc, _etag: `"${++this.version}"` };
      this.docs.set(doc.id, stored);
      if (this.kind === 'person') this.index(stored);
      if ((this.writes & 63) === 0) {
        this.sampledChars += JSON.stringify(stored).length;
        this.sampled += 1;
      }
      outcome.written += 1;
      this.writes += 1;
    }
    return outcome;
  }

  async hasRecordsOf(entity: string): Promise<boolean> {
    for (const doc of this.docs.values()) {
      if (this.kind === 'generic' ? doc.entity === entity : this.holds(doc, entity)) return true;
    }
    return false;
  }

  async registerAlias(rowId: string, personId: string): Promise<void> {
    this.registered.set(rowId.toLowerCase(), personId);
  }

  async aliasesOf(rowIds: readonly string[]): Promise<ReadonlyMap<string, string>> {
    const persons = new Map<string, string>();
    for (const id of rowIds) {
      const person = this.registered.get(id.toLowerCase());
      if (person !== undefined) persons.set(id.toLowerCase(), person);
    }
    return persons;
  }

  async awaitingRetry(dueBy: string): Promise<FoundDocuments> {
    const docs = [...this.docs.values()].filter((doc) => {
      const state = (doc as { pushState?: { status?: string; nextAttemptAt?: string } }).pushState;
      return (
        state?.status === 'retrying' && state.nextAttemptAt !== undefined && state.nextAttemptAt <= dueBy
      );
    });
    return { docs: docs.map((doc) => structuredClone(doc)), invalid: [] };
  }

  async pushBacklog(): Promise<PushBacklog> {
    return backlogOf([...this.docs.values()].map((doc) => pushStateOf(doc)));
  }

  async byEmail(email: string, limit: number): Promise<Record<string, unknown>[]> {
    const wanted = email.trim().toLowerCase();
    return [...this.docs.values()]
      .filter(
        (doc) =>
          doc.entity === 'person' &&
          String((doc as { email?: unknown }).email ?? '').toLowerCase() === wanted,
      )
      .slice(0, limit)
      .map((doc) => structuredClone(doc) as Record<string, unknown>);
  }

  async *recordsOf(entity: string, pageSize = 500): AsyncGenerator<FoundDocuments> {
    let page: RecordDocument[] = [];
    for (const doc of [...this.docs.values()]) {
      if (!this.belongs(doc, entity)) continue;
      page.push(structuredClone(doc));
      if (page.length >= pageSize) {
        yield { docs: page, invalid: [] };
        page = [];
      }
    }
    if (page.length > 0) yield { docs: page, invalid: [] };
  }

  private belongs(doc: RecordDocument, entity: string): boolean {
    if (this.kind === 'generic') return doc.entity === entity;
    const dynamics = (doc as { dynamics?: { lead?: unknown; contact?: unknown } }).dynamics;
    return (entity === 'lead' ? dynamics?.lead : dynamics?.contact) !== undefined;
  }

  private holds(doc: RecordDocument, entity: string): boolean {
    const dynamics = (doc as { dynamics?: { leadId?: string; contactId?: string } }).dynamics;
    return (entity === 'lead' ? dynamics?.leadId : dynamics?.contactId) !== undefined;
  }

  private index(doc: RecordDocument): void {
    const dynamics = (doc as { dynamics?: { leadId?: string; contactId?: string } }).dynamics;
    if (dynamics?.leadId !== undefined && dynamics.leadId !== doc.id)
      this.aliases.set(dynamics.leadId, doc.id);
    if (dynamics?.contactId !== undefined && dynamics.contactId !== doc.id) {
      this.aliases.set(dynamics.contactId, doc.id);
    }
  }
}
