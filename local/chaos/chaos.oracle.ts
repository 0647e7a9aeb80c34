import { BUILT_IN_ENTITIES } from '../../shared/config/entity.catalog';
import { DEFAULT_ENTITIES } from '../../shared/config/env.schema';

// The chaos run's own judge of the end state. It reads both sides directly (the simulator's rows
// and every Cosmos document) and knows what was done to them (the ledger), so it does not rely on
// any code of the sync it is judging.

export type Row = Record<string, unknown>;
export type Doc = Record<string, unknown> & { id: string };
export type PersonTable = 'lead' | 'contact';

/** Marketing field and Dynamics column of the person fields the chaos edits. */
export const EDITED_FIELDS = {
  firstName: 'firstname',
  lastName: 'lastname',
  jobTitle: 'jobtitle',
  phone: 'telephone1',
} as const;
export type EditedField = keyof typeof EDITED_FIELDS;

const COMPARED_FIELDS = { ...EDITED_FIELDS, email: 'emailaddress1' } as const;

export interface LedgerEntry {
  table: PersonTable;
  rowId: string;
  personId: string;
  field: EditedField;
  /** The value both sides must end with. */
  expected: string;
  /** Who made the edit that decides it ("conflict": both, the entity's rule decides). */
  side: 'dynamics' | 'marketing' | 'conflict';
}

export interface MarketingCreate {
  personId: string;
  email: string;
  as: PersonTable;
}

export interface ChaosLedger {
  /** Last edit per row and field. */
  edits: Map<string, LedgerEntry>;
  /** Rows deleted in Dynamics, with the person that held them when they were. */
  deleted: { table: PersonTable; rowId: string; personId: string | undefined }[];
  creates: MarketingCreate[];
}

export interface Finding {
  code: string;
  table: string;
  id: string;
  detail: string;
}

export interface OracleReport {
  lost: Finding[];
  duplicated: Finding[];
  drift: Finding[];
  /** Marketing edits and create requests still on their way (not findings until the end). */
  pending: Finding[];
}

export interface OracleInput {
  rows: (table: string) => Row[];
  /** Every document of a container. */
  docs: (container: string) => Promise<Doc[]>;
  ledger: ChaosLedger;
}

const str = (value: unknown): string | null =>
  value === undefined || value === null ? null : typeof value === 'string' ? value : JSON.stringify(value);
const obj = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};

const synced = (row: Row): boolean => row.new_synctomkto !== false;
const idKey = (table: PersonTable) => (table === 'lead' ? 'leadId' : 'contactId');
export const ledgerKey = (table: string, rowId: string, field: string) => `${table}:${rowId}:${field}`;

function pendingOf(doc: Doc): string | undefined {
  const sync = obj(doc.sync);
  if (doc.syncToDynamics !== undefined) return 'a create request not carried out yet';
  if (sync.deletedInDynamics !== undefined || sync.merged !== undefined || sync.excluded !== undefined) {
    return undefined;
  }
  const agreed = obj(sync.agreed);
  for (const field of Object.keys(COMPARED_FIELDS)) {
    if (field in doc && str(doc[field]) !== str(agreed[field])) return `${field} not pushed yet`;
  }
  return undefined;
}

/** Compares every row of the simulator with Cosmos, and the ledger with both. */
export async function judge(input: OracleInput): Promise<OracleReport> {
  const report: OracleReport = { lost: [], duplicated: [], drift: [], pending: [] };
  const cache = new Map<string, Row[]>();
  const rowsOf = (table: string): Row[] => {
    const rows = cache.get(table) ?? input.rows(table);
    cache.set(table, rows);
    return rows;
  };
  const people = await input.docs('people');
  const byRow = new Map<string, Doc[]>();
  for (const doc of people) {
    const dynamics = obj(doc.dynamics);
    for (const table of ['lead', 'contact'] as const) {
      const rowId = dynamics[idKey(table)];
      if (typeof rowId !== 'string') continue;
      const key = `${table}:${rowId}`;
      byRow.set(key, [...(byRow.get(key) ?? []), doc]);
    }
    const pending = pendingOf(doc);
    if (pending !== undefined)
      report.pending.push({ code: 'in_flight', table: 'person', id: doc.id, detail: pending });
  }

  const settledFields = new Set<string>();
  for (const entry of input.ledger.edits.values()) {
    const row = rowsOf(entry.table).find((r) => r[`${entry.table}id`] === entry.rowId);
    const doc = people.find((p) => p.id === entry.personId);
    const inDynamics = str(row?.[EDITED_FIELDS[entry.field]]);
    const inCosmos = str(doc?.[entry.field]);
    settledFields.add(ledgerKey(entry.table, entry.rowId, entry.field));
    if (inDynamics === entry.expected && inCosmos === entry.expected) continue;
    report.lost.push({
      code: `${entry.side}_edit_lost`,
      table: entry.table,
      id: entry.rowId,
      detail: `${entry.field}: expected ${JSON.stringify(entry.expected)}, Dynamics has ${JSON.stringify(inDynamics)}, Cosmos has ${JSON.stringify(inCosmos)}`,
    });
  }

  const live = new Set<string>();
  for (const table of ['lead', 'contact'] as const) {
    for (const row of rowsOf(table)) {
      const rowId = String(row[`${table}id`]);
      live.add(`${table}:${rowId}`);
      if (!synced(row)) continue;
      const docs = byRow.get(`${table}:${rowId}`) ?? [];
      if (docs.length === 0) {
        report.lost.push({ code: 'missing_in_cosmos', table, id: rowId, detail: 'no person holds this row' });
        continue;
      }
      if (docs.length > 1) {
        report.duplicated.push({
          code: 'two_persons',
          table,
          id: rowId,
          detail: `held by ${docs.length} persons: ${docs.map((d) => d.id).join(', ')}`,
        });
        continue;
      }
      const doc = docs[0] as Doc;
      const source = obj(obj(doc.dynamics)[table]);
      if (source.versionnumber !== row.versionnumber) {
        report.drift.push({
          code: 'stale',
          table,
          id: rowId,
          detail: `Cosmos holds version ${String(source.versionnumber)}, Dynamics ${String(row.versionnumber)}`,
        });
        continue;
      }
      if (doc.type !== table || obj(doc.sync).merged !== undefined) continue;
      for (const [field, column] of Object.entries(COMPARED_FIELDS)) {
        if (settledFields.has(ledgerKey(table, rowId, field))) continue;
        if (str(doc[field]) === str(row[column])) continue;
        report.drift.push({
          code: 'values_differ',
          table,
          id: rowId,
          detail: `${field}: Dynamics ${JSON.stringify(str(row[column]))}, Cosmos ${JSON.stringify(str(doc[field]))}`,
        });
      }
    }
  }

  for (const gone of input.ledger.deleted) {
    const doc = (byRow.get(`${gone.table}:${gone.rowId}`) ?? [])[0];
    if (doc === undefined) continue;
    const source = obj(obj(doc.dynamics)[gone.table]);
    if (source.deletedAt !== undefined || obj(doc.sync).deletedInDynamics !== undefined) continue;
    report.lost.push({
      code: 'delete_lost',
      table: gone.table,
      id: gone.rowId,
      detail: `deleted in Dynamics, person ${doc.id} not flagged`,
    });
  }
  for (const [key, docs] of byRow) {
    if (live.has(key)) continue;
    const [table, rowId] = key.split(':') as [PersonTable, string];
    for (const doc of docs) {
      const source = obj(obj(doc.dynamics)[table]);
      const flagged = source.deletedAt !== undefined || obj(doc.sync).deletedInDynamics !== undefined;
      const creating = doc.syncToDynamics !== undefined;
      if (!flagged && !creating && Object.keys(source).length > 0) {
        report.drift.push({
          code: 'gone_from_dynamics',
          table,
          id: rowId,
          detail: `person ${doc.id} holds a row Dynamics no longer has, not flagged deleted`,
        });
      }
    }
  }

  for (const create of input.ledger.creates) {
    const rows = (['lead', 'contact'] as const).flatMap((table) =>
      rowsOf(table).filter((r) => str(r.emailaddress1)?.toLowerCase() === create.email.toLowerCase()),
    );
    const doc = people.find((p) => p.id === create.personId);
    if (rows.length > 1) {
      report.duplicated.push({
        code: 'two_rows_created',
        table: create.as,
        id: create.personId,
        detail: `${rows.length} Dynamics rows carry the email of one marketing create`,
      });
    } else if (rows.length === 0 && doc?.syncToDynamics === undefined) {
      report.lost.push({
        code: 'create_lost',
        table: create.as,
        id: create.personId,
        detail: `no Dynamics row was created: ${JSON.stringify(doc?.syncToDynamicsResult ?? null)}`,
      });
    }
  }

  for (const entity of BUILT_IN_ENTITIES) {
    if (
      entity.container === 'people' ||
      !(DEFAULT_ENTITIES as readonly string[]).includes(entity.logicalName)
    )
      continue;
    const records = new Map((await input.docs(entity.container)).map((doc) => [doc.id, doc]));
    for (const row of rowsOf(entity.logicalName)) {
      if (!synced(row)) continue;
      const rowId = String(row[entity.key]);
      const record = records.get(rowId);
      if (record === undefined) {
        report.lost.push({
          code: 'missing_in_cosmos',
          table: entity.logicalName,
          id: rowId,
          detail: 'no record',
        });
      } else if (obj(record.dynamics).versionnumber !== row.versionnumber) {
        report.drift.push({
          code: 'stale',
          table: entity.logicalName,
          id: rowId,
          detail: `Cosmos holds version ${String(obj(record.dynamics).versionnumber)}, Dynamics ${String(row.versionnumber)}`,
        });
      }
    }
  }
  return report;
}
