import type { TableDef } from './schema.catalog';

/** One stored row. Rows are replaced, never mutated, so an undo log can keep the old object. */
export interface Row {
  readonly id: string;
  readonly version: number;
  /** Column values by read name; datetimes as ISO strings (second precision, `Z`). */
  readonly values: Readonly<Record<string, unknown>>;
  /** Lookup read name -> target table logical name. */
  readonly targets: Readonly<Record<string, string>>;
}

export interface ChangeEntry {
  version: number;
  id: string;
  deleted: boolean;
}

export interface TableState {
  def: TableDef;
  rows: Map<string, Row>;
  /** Primary keys in ascending order: the paging order of the real service when no $orderby is given. */
  sortedIds: string[];
  /** Every create/update/delete in version order. */
  log: ChangeEntry[];
  tracked: boolean;
  /** Bumped by a forced token expiry: tokens of an older epoch are refused. */
  tokenEpoch: number;
  /** Bumped by every change to the rows, rolled-back ones too: what a derived index is valid for. */
  revision: number;
}

export interface WriteResult {
  row: Row;
  created: boolean;
}

interface UndoEntry {
  table: TableState;
  id: string;
  previous: Row | undefined;
}

interface Transaction {
  version: number;
  logLengths: Map<TableState, number>;
  undo: UndoEntry[];
  /** Told to the listeners only when the transaction commits: a rolled-back write never happened. */
  events: StoreEvent[];
}

/**
 * A committed change, as the event pipeline sees it: a row written or deleted, or a message
 * (Merge, QualifyLead) that an action ran. Listeners (the webhook dispatcher) run synchronously
 * and must only schedule work.
 */
export type StoreEvent =
  | { kind: 'write'; table: string; id: string; previous: Row | undefined; row: Row; actorId: string }
  | { kind: 'delete'; table: string; id: string; previous: Row; actorId: string | undefined }
  | { kind: 'message'; message: string; table: string; id: string; actorId: string };

export const isoSeconds = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}Z`;

const lowerBound = (arr: string[], id: string): number => {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((arr[mid] as string) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

export const upperBoundId = (arr: string[], id: string): number => {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((arr[mid] as string) <= id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/**
 * In-memory organisation database. One organisation-wide version counter (like SQL rowversion)
 * stamps every create, update and delete in every table.
 */
export class DataStore {
  private readonly tables = new Map<string, TableState>();
  private readonly bySet = new Map<string, TableState>();
  private versionCounter = 0;
  private transaction: Transaction | undefined;
  private readonly listeners: ((event: StoreEvent) => void)[] = [];
  writes = 0;

  constructor(
    defs: TableDef[],
    private readonly now: () => number,
    untracked: string[] = [],
  ) {
    for (const def of defs) {
      const state: TableState = {
        def,
        rows: new Map(),
        sortedIds: [],
        log: [],
        tracked: !untracked.includes(def.logicalName),
        tokenEpoch: 0,
        revision: 0,
      };
      this.tables.set(def.logicalName, state);
      this.bySet.set(def.entitySetName, state);
    }
  }

  /** Every committed change from now on (seeding is not told); the returned function stops it. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  /** A message an action ran on a row (Merge on the target, QualifyLead on the lead). */
  announce(message: string, table: string, id: string, actorId: string): void {
    this.emit({ kind: 'message', message, table, id: id.toLowerCase(), actorId });
  }

  private emit(event: StoreEvent): void {
    if (this.listeners.length === 0) return;
    if (this.transaction) this.transaction.events.push(event);
    else for (const listener of this.listeners) listener(event);
  }

  get version(): number {
    return this.versionCounter;
  }

  table(logicalName: string): TableState | undefined {
    return this.tables.get(logicalName);
  }

  tableBySet(entitySet: string): TableState | undefined {
    return this.bySet.get(entitySet);
  }

  /** Accepts a logical name or an entity set name. */
  resolve(name: string): TableState | undefined {
    return this.tables.get(name) ?? this.bySet.get(name);
  }

  allTables(): TableState[] {
    return [...this.tables.values()];
  }

  get(table: string, id: string): Row | undefined {
    return this.tables.get(table)?.rows.get(id.toLowerCase());
  }

  /**
   * Fast path for seeding: rows arrive unsorted and untracked by transactions; ids are sorted once
   * by `finishBulk`.
   */
  bulkInsert(
    state: TableState,
    id: string,
    values: Record<string, unknown>,
    targets: Record<string, string>,
  ): Row {
    const version = ++this.versionCounter;
    // The seed hands over fresh objects, so no copy is needed.
    values.versionnumber = version;
    const row: Row = { id, version, values, targets };
    state.rows.set(id, row);
    state.sortedIds.push(id);
    state.log.push({ version, id, deleted: false });
    state.revision++;
    return row;
  }

  finishBulk(): void {
    for (const state of this.tables.values()) state.sortedIds.sort();
  }

  /** Create (when `existing` is undefined) or update a row, stamping version and audit columns. */
  write(
    state: TableState,
    id: string,
    changes: Record<string, unknown>,
    targetChanges: Record<string, string | undefined>,
    actorId: string,
  ): WriteResult {
    const key = id.toLowerCase();
    const previous = state.rows.get(key);
    const version = ++this.versionCounter;
    const stamp = isoSeconds(this.now());
    const values: Record<string, unknown> = previous ? { ...previous.values } : {};
    const targets: Record<string, string> = previous ? { ...previous.targets } : {};
    Object.assign(values, changes);
    for (const [column, target] of Object.entries(targetChanges)) {
      if (target === undefined) delete targets[column];
      else targets[column] = target;
    }
    values[state.def.primaryKey] = key;
    values.versionnumber = version;
    values.modifiedon = stamp;
    if (state.def.columnMap.has('_modifiedby_value')) {
      values._modifiedby_value = actorId;
      targets._modifiedby_value = 'systemuser';
    }
    if (!previous) {
      values.createdon = stamp;
      if (state.def.columnMap.has('_createdby_value')) {
        values._createdby_value = actorId;
        targets._createdby_value = 'systemuser';
      }
    }
    const row: Row = { id: key, version, values, targets };
    this.recordUndo(state, key, previous);
    state.rows.set(key, row);
    state.revision++;
    if (!previous) state.sortedIds.splice(lowerBound(state.sortedIds, key), 0, key);
    state.log.push({ version, id: key, deleted: false });
    this.writes++;
    this.emit({ kind: 'write', table: state.def.logicalName, id: key, previous, row, actorId });
    return { row, created: !previous };
  }

  delete(state: TableState, id: string, actorId?: string): boolean {
    const key = id.toLowerCase();
    const previous = state.rows.get(key);
    if (!previous) return false;
    const version = ++this.versionCounter;
    this.recordUndo(state, key, previous);
    state.rows.delete(key);
    state.revision++;
    const at = lowerBound(state.sortedIds, key);
    if (state.sortedIds[at] === key) state.sortedIds.splice(at, 1);
    state.log.push({ version, id: key, deleted: true });
    this.writes++;
    this.emit({ kind: 'delete', table: state.def.logicalName, id: key, previous, actorId });
    return true;
  }

  /** Runs `fn` atomically: if it throws, every write it made is undone and the error rethrown. */
  atomically<T>(fn: () => T): T {
    if (this.transaction) return fn();
    const tx: Transaction = {
      version: this.versionCounter,
      logLengths: new Map([...this.tables.values()].map((t) => [t, t.log.length])),
      undo: [],
      events: [],
    };
    this.transaction = tx;
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.rollback(tx);
      throw err;
    } finally {
      this.transaction = undefined;
    }
    for (const event of tx.events) for (const listener of this.listeners) listener(event);
    return result;
  }

  private recordUndo(table: TableState, id: string, previous: Row | undefined): void {
    this.transaction?.undo.push({ table, id, previous });
  }

  private rollback(tx: Transaction): void {
    for (const entry of tx.undo.reverse()) {
      const { table, id, previous } = entry;
      const at = lowerBound(table.sortedIds, id);
      const present = table.sortedIds[at] === id;
      table.revision++;
      if (previous) {
        table.rows.set(id, previous);
        if (!present) table.sortedIds.splice(at, 0, id);
      } else {
        table.rows.delete(id);
        if (present) table.sortedIds.splice(at, 1);
      }
      this.writes--;
    }
    for (const [table, length] of tx.logLengths) table.log.length = length;
    this.versionCounter = tx.version;
  }

  /**
   * Net changes of a table in the version range (from, to]: rows changed (latest change first
   * ordered by version), then deletions.
   */
  changesBetween(
    state: TableState,
    from: number,
    to: number,
  ): { upserts: ChangeEntry[]; deletes: ChangeEntry[] } {
    const log = state.log;
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((log[mid] as ChangeEntry).version <= from) lo = mid + 1;
      else hi = mid;
    }
    const latest = new Map<string, ChangeEntry>();
    for (let i = lo; i < log.length; i++) {
      const entry = log[i] as ChangeEntry;
      if (entry.version > to) break;
      latest.delete(entry.id);
      latest.set(entry.id, entry);
    }
    const upserts: ChangeEntry[] = [];
    const deletes: ChangeEntry[] = [];
    for (const entry of latest.values()) (entry.deleted ? deletes : upserts).push(entry);
    return { upserts, deletes };
  }
}
