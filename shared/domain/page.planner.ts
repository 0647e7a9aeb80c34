import type { EntityProfile } from './entity.profile';
import { threeWayMerge } from './three-way.merge';
import {
  isPerson,
  type GenericRecord,
  type LookupValue,
  type PersonRecord,
  type PersonSource,
  type RecordDocument,
  type SourceMeta,
} from './record.model';
import {
  idKeyOf,
  incomingMarketingValues,
  transformFailures,
  isForgotten,
  marketingValues,
  versionOf,
  withDynamicsRow,
  type PersonTable,
} from './person.values';
import { mapRow, type MappedRow, type RowError } from './row.mapper';
import type { Owner } from './document.schema';
import { ownerOfRow, sameOwner } from './owner.rules';

export interface PlanContext {
  now: string;
  /** Set during a full load (initial or resync): every row read is stamped as seen by this load. */
  loadId?: string;
  /**
   * Row id -> the person registered to hold it (push-create registers before it links). A row no
   * person holds yet goes into that person, when it is among the documents, instead of a new one.
   */
  aliases?: ReadonlyMap<string, string>;
  /** The directory's users and teams that own the page's rows, by id: each record keeps its owner's name and email. */
  owners?: ReadonlyMap<string, Owner>;
}

export interface PageInput {
  rows: readonly unknown[];
  deleted: readonly { id: string }[];
}

export interface PlanStats {
  rows: number;
  deleted: number;
  invalid: number;
  /** Rows whose synced values were already stored: no write. */
  unchanged: number;
  /** Rows with the filter column false. */
  excluded: number;
  /** Documents to write (one document may cover several rows). */
  writes: number;
  conflicts: number;
}

export interface PagePlan {
  writes: RecordDocument[];
  errors: RowError[];
  stats: PlanStats;
  /** Ids of the rows that mapped cleanly (written, unchanged or excluded): their old row errors are over. */
  synced: string[];
  /** Each row and tombstone that changed a document, with that document's id (tombstones as `deleted:<id>`). */
  changed: { row: string; doc: string }[];
  /** The rows counted in `stats.unchanged`. */
  unchangedRows: string[];
}

/** Finds existing documents by id and, for people, by the lead and contact ids they carry. */
class DocIndex {
  private readonly byId = new Map<string, RecordDocument>();
  private readonly byLead = new Map<string, string>();
  private readonly byContact = new Map<string, string>();
  readonly dirty = new Set<string>();

  constructor(docs: readonly RecordDocument[]) {
    for (const doc of docs) this.put(doc, false);
  }

  put(doc: RecordDocument, dirty = true): void {
    this.byId.set(doc.id, doc);
    if (isPerson(doc)) {
      if (doc.dynamics.leadId) this.byLead.set(doc.dynamics.leadId, doc.id);
      if (doc.dynamics.contactId) this.byContact.set(doc.dynamics.contactId, doc.id);
    }
    if (dirty) this.dirty.add(doc.id);
  }

  id(id: string): RecordDocument | undefined {
    return this.byId.get(id);
  }

  person(id: string | undefined): PersonRecord | undefined {
    if (id === undefined) return undefined;
    const doc = this.byId.get(id);
    return doc !== undefined && isPerson(doc) ? doc : undefined;
  }

  lead(leadId: string): PersonRecord | undefined {
    return this.person(this.byLead.get(leadId));
  }

  contact(contactId: string): PersonRecord | undefined {
    return this.person(this.byContact.get(contactId));
  }

  changed(): RecordDocument[] {
    return [...this.dirty].map((id) => this.byId.get(id) as RecordDocument);
  }
}

/** The document ids a page may touch, so the repository can read them all with one query. */
export function lookupIdsOf(profile: EntityProfile, page: PageInput): string[] {
  const ids = new Set<string>();
  for (const raw of page.rows) {
    if (typeof raw !== 'object' || raw === null) continue;
    const row = raw as Record<string, unknown>;
    const key = row[profile.key];
    if (typeof key === 'string') ids.add(key.toLowerCase());
    const lead = row._originatingleadid_value;
    if (profile.logicalName === 'contact' && typeof lead === 'string') ids.add(lead.toLowerCase());
  }
  for (const tombstone of page.deleted) ids.add(tombstone.id.toLowerCase());
  return [...ids];
}

/**
 * Turns one page of the delta feed into the documents to write. Pure: the same page against the
 * same stored documents always gives the same plan, and a plan against its own result is empty,
 * which is what makes replaying a page after a crash harmless.
 */
export function planPage(
  profile: EntityProfile,
  page: PageInput,
  existing: readonly RecordDocument[],
  ctx: PlanContext,
): PagePlan {
  const index = new DocIndex(existing);
  const errors: RowError[] = [];
  const synced: string[] = [];
  const changed: { row: string; doc: string }[] = [];
  const unchangedRows: string[] = [];
  const stats: PlanStats = {
    rows: page.rows.length,
    deleted: page.deleted.length,
    invalid: 0,
    unchanged: 0,
    excluded: 0,
    writes: 0,
    conflicts: 0,
  };
  for (const raw of page.rows) {
    const mapped = mapRow(profile, raw);
    if (!mapped.ok) {
      stats.invalid += 1;
      errors.push(mapped.error);
      continue;
    }
    const row = mapped.row;
    const failures = profile.kind === 'person' ? transformFailures(profile.personFields, row) : [];
    for (const failure of failures) {
      errors.push({ id: row.id, code: 'transform_failed', message: failure.reason, excerpt: '' });
    }
    // A row with a failed transform keeps its error open until a pull maps every field.
    if (failures.length === 0) synced.push(row.id);
    if (row.filter === false) stats.excluded += 1;
    const outcome =
      profile.kind === 'person'
        ? applyPersonRow(
            profile,
            row,
            index,
            ctx,
            failures.map((f) => f.field),
          )
        : applyGenericRow(profile, row, index.id(row.id) as GenericRecord | undefined, ctx);
    if (outcome === undefined) {
      if (row.filter !== false) {
        stats.unchanged += 1;
        unchangedRows.push(row.id);
      }
      continue;
    }
    stats.conflicts += outcome.conflicts;
    index.put(outcome.doc);
    changed.push({ row: row.id, doc: outcome.doc.id });
  }
  for (const tombstone of page.deleted) {
    const id = tombstone.id.toLowerCase();
    const doc =
      profile.kind === 'person'
        ? profile.logicalName === 'lead'
          ? (index.lead(id) ?? index.person(ctx.aliases?.get(id)) ?? index.person(id))
          : (index.contact(id) ?? index.person(ctx.aliases?.get(id)) ?? index.person(id))
        : index.id(id);
    if (doc === undefined) continue;
    const updated = applyDeletion(profile, doc, id, ctx.now);
    if (updated !== undefined) {
      index.put(updated);
      changed.push({ row: `deleted:${id}`, doc: updated.id });
    }
  }
  const writes = index.changed();
  stats.writes = writes.length;
  return { writes, errors, stats, synced, changed, unchangedRows };
}

interface Outcome {
  doc: RecordDocument;
  conflicts: number;
}

/** What the document keeps about its Dynamics row; `seenLoad` marks rows a resync has seen. */
export function sourceMetaOf(row: MappedRow, seenLoad: string | undefined): SourceMeta {
  return {
    id: row.id,
    table: row.table,
    etag: row.etag,
    versionnumber: row.versionnumber,
    modifiedon: row.modifiedon,
    statecode: row.statecode,
    statuscode: row.statuscode,
    merged: row.merged,
    masterId: row.masterId,
    hash: row.hash,
    ...(seenLoad !== undefined ? { seenLoad } : {}),
  };
}

function metaOf(row: MappedRow, previous: SourceMeta | undefined, ctx: PlanContext): SourceMeta {
  return sourceMetaOf(row, ctx.loadId ?? previous?.seenLoad);
}

/** Whether the stored source needs no write for this row (same content, or an older version). */
function upToDate(meta: SourceMeta | undefined, row: MappedRow, ctx: PlanContext): boolean {
  if (meta === undefined) return false;
  if (ctx.loadId !== undefined && meta.seenLoad !== ctx.loadId) return false;
  if (meta.deletedAt !== undefined || meta.excluded === true) return false;
  // A replayed or re-read page can carry an older version than one already stored.
  return meta.hash === row.hash || meta.versionnumber > row.versionnumber;
}

function mergedFlag(row: MappedRow, previous: { at: string; into: string } | undefined, now: string) {
  if (!row.merged || row.masterId === null) return undefined;
  return previous?.into === row.masterId ? previous : { at: now, into: row.masterId };
}

function withoutUndefined<T extends object>(value: T): T {
  // A plain loop: the entries/filter/fromEntries form made three arrays per written row.
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const item = source[key];
    if (item !== undefined) out[key] = item;
  }
  return out as T;
}

function excludeSource<T extends SourceMeta>(meta: T, ctx: PlanContext): T | undefined {
  const seenLoad = ctx.loadId ?? meta.seenLoad;
  if (meta.excluded === true && meta.seenLoad === seenLoad) return undefined;
  return { ...meta, excluded: true, ...(seenLoad !== undefined ? { seenLoad } : {}) };
}

function applyGenericRow(
  profile: EntityProfile,
  row: MappedRow,
  existing: GenericRecord | undefined,
  ctx: PlanContext,
): Outcome | undefined {
  if (row.filter === false) {
    // Filtered out: never create, and leave an existing copy as it was, only flagged.
    if (existing === undefined) return undefined;
    const meta = excludeSource(existing.dynamics, ctx);
    if (meta === undefined) return undefined;
    return {
      doc: {
        ...existing,
        dynamics: meta,
        sync: { ...existing.sync, excluded: existing.sync.excluded ?? { at: ctx.now }, updatedAt: ctx.now },
      },
      conflicts: 0,
    };
  }
  const owner = ownerOfRow(row.values.ownerid as LookupValue | undefined, ctx.owners, existing?.owner);
  if (
    existing !== undefined &&
    upToDate(existing.dynamics, row, ctx) &&
    !existing.sync.excluded &&
    sameOwner(existing.owner, owner)
  ) {
    return undefined;
  }
  const doc: GenericRecord = {
    ...(existing ?? {}),
    id: row.id,
    entity: profile.logicalName,
    values: row.values,
    ...(owner !== undefined ? { owner } : {}),
    dynamics: metaOf(row, existing?.dynamics, ctx),
    sync: withoutUndefined({
      updatedAt: ctx.now,
      merged: mergedFlag(row, existing?.sync.merged, ctx.now),
    }),
  };
  return { doc, conflicts: 0 };
}

function findPerson(
  row: MappedRow,
  index: DocIndex,
  aliases: ReadonlyMap<string, string> | undefined,
): { person?: PersonRecord; newId: string } {
  const registered = index.person(aliases?.get(row.id));
  if (row.table === 'lead') {
    const person = index.lead(row.id) ?? registered ?? index.person(row.id);
    return { person, newId: person?.id ?? row.id };
  }
  const own = index.contact(row.id) ?? registered;
  if (own) return { person: own, newId: own.id };
  const lead = (row.values.originatingleadid as LookupValue | null | undefined)?.id;
  if (lead !== undefined) {
    // A qualified lead and the contact it became are one person, unless that person already has
    // another contact (someone pointed a second contact at the same lead): then this one stands alone.
    const fromLead = index.lead(lead) ?? index.person(lead);
    if (fromLead === undefined) return { newId: lead };
    if (fromLead.dynamics.contactId === undefined || fromLead.dynamics.contactId === row.id) {
      return { person: fromLead, newId: fromLead.id };
    }
  }
  return { person: index.person(row.id), newId: row.id };
}

function applyPersonRow(
  profile: EntityProfile,
  row: MappedRow,
  index: DocIndex,
  ctx: PlanContext,
  held: readonly string[] = [],
): Outcome | undefined {
  const table = row.table as PersonTable;
  // A field whose transform failed reads as the value last agreed: the merge keeps the marketing side's.
  const incomingOf = (person: PersonRecord | undefined) => {
    const values = incomingMarketingValues(profile.personFields, row);
    for (const field of held) values[field] = person?.sync.agreed[field] ?? null;
    return values;
  };
  const { person, newId } = findPerson(row, index, ctx.aliases);
  // Forgotten on request: its personal data must not come back with the next change in Dynamics.
  if (person !== undefined && isForgotten(person)) return undefined;
  const previous = person?.dynamics[table];
  // A contact takes the person over from its lead (qualification); a lead takes it back only when that
  // contact is gone from Dynamics (see liveLeadOf), as a fresh load would find the person.
  const primary =
    person === undefined ||
    person.type === table ||
    table === 'contact' ||
    person.dynamics.contact?.deletedAt !== undefined;

  if (row.filter === false) {
    if (person === undefined || previous === undefined) return undefined;
    const meta = excludeSource(previous, ctx);
    if (meta === undefined) return undefined;
    const sync = primary
      ? { ...person.sync, excluded: person.sync.excluded ?? { at: ctx.now } }
      : person.sync;
    return {
      doc: {
        ...person,
        dynamics: { ...person.dynamics, [table]: meta },
        sync: { ...sync, updatedAt: ctx.now },
      },
      conflicts: 0,
    };
  }
  const owner = primary
    ? ownerOfRow(row.values.ownerid as LookupValue | undefined, ctx.owners, person?.owner)
    : person?.owner;
  if (
    person !== undefined &&
    upToDate(previous, row, ctx) &&
    (!primary || person.type === table) &&
    sameOwner(person.owner, owner)
  ) {
    // A person flagged deleted or excluded whose primary row arrives live and included is neither.
    if (!primary || (person.sync.excluded === undefined && person.sync.deletedInDynamics === undefined)) {
      return undefined;
    }
  }

  const source: PersonSource = { ...metaOf(row, previous, ctx), values: row.values };
  if (person === undefined) {
    const incoming = incomingOf(undefined);
    const doc: PersonRecord = {
      id: newId,
      entity: 'person',
      type: table,
      ...incoming,
      ...(owner !== undefined ? { owner } : {}),
      dynamics: withDynamicsRow(undefined, table, versionOf(row), source),
      sync: withoutUndefined({
        updatedAt: ctx.now,
        agreed: incoming,
        merged: mergedFlag(row, undefined, ctx.now),
      }),
    };
    return { doc, conflicts: 0 };
  }
  if (!primary) {
    return {
      doc: {
        ...person,
        dynamics: { ...person.dynamics, [idKeyOf(table)]: row.id, [table]: source },
        sync: { ...person.sync, updatedAt: ctx.now },
      },
      conflicts: 0,
    };
  }
  const incoming = incomingOf(person);
  const merge = threeWayMerge(
    profile.personFields,
    incoming,
    person.sync.agreed,
    marketingValues(person, profile.personFields),
  );
  const { excluded: _excluded, deletedInDynamics: _deleted, merged: _merged, ...keptSync } = person.sync;
  const doc: PersonRecord = {
    ...person,
    ...merge.values,
    ...(owner !== undefined ? { owner } : {}),
    type: table,
    dynamics: withDynamicsRow(person.dynamics, table, versionOf(row), source),
    sync: withoutUndefined({
      ...keptSync,
      updatedAt: ctx.now,
      agreed: { ...person.sync.agreed, ...merge.agreed },
      merged: mergedFlag(row, person.sync.merged, ctx.now),
    }),
  };
  return { doc, conflicts: merge.conflicts.length };
}

/**
 * A row deleted in Dynamics (tombstone, or not seen by a full resync): the copy stays, flagged,
 * because marketing history hangs off it; nothing is removed automatically.
 */
export function applyDeletion(
  profile: EntityProfile,
  doc: RecordDocument,
  dynamicsId: string,
  now: string,
): RecordDocument | undefined {
  if (!isPerson(doc)) {
    if (doc.sync.deletedInDynamics !== undefined) return undefined;
    return {
      ...doc,
      dynamics: { ...doc.dynamics, deletedAt: now },
      sync: { ...doc.sync, deletedInDynamics: { at: now }, updatedAt: now },
    };
  }
  const table: PersonTable =
    doc.dynamics.leadId === dynamicsId
      ? 'lead'
      : doc.dynamics.contactId === dynamicsId
        ? 'contact'
        : (profile.logicalName as PersonTable);
  const source = doc.dynamics[table];
  if (source?.deletedAt !== undefined) return undefined;
  const isPrimary = doc.type === table;
  const lead = table === 'contact' && isPrimary ? liveLeadOf(doc) : undefined;
  if (source !== undefined && lead !== undefined) return fallBackToLead(profile, doc, source, lead, now);
  if (source === undefined && !isPrimary) return undefined;
  if (source === undefined && doc.sync.deletedInDynamics !== undefined) return undefined;
  return {
    ...doc,
    dynamics:
      source === undefined ? doc.dynamics : { ...doc.dynamics, [table]: { ...source, deletedAt: now } },
    sync: {
      ...doc.sync,
      updatedAt: now,
      ...(isPrimary ? { deletedInDynamics: doc.sync.deletedInDynamics ?? { at: now } } : {}),
    },
  };
}

/** After a full resync: a stored row the resync did not see no longer exists in Dynamics. */
export function markUnseen(
  profile: EntityProfile,
  doc: RecordDocument,
  loadId: string,
  now: string,
): RecordDocument | undefined {
  if (isPerson(doc)) {
    const table = profile.logicalName as PersonTable;
    const source = doc.dynamics[table];
    if (source === undefined || source.seenLoad === loadId) return undefined;
    return applyDeletion(profile, doc, source.id, now);
  }
  if (doc.entity !== profile.logicalName || doc.dynamics.seenLoad === loadId) return undefined;
  return applyDeletion(profile, doc, doc.id, now);
}

/** The person's lead row when Dynamics still has it live and synced (not deleted, excluded or merged). */
function liveLeadOf(doc: PersonRecord): PersonSource | undefined {
  const lead = doc.dynamics.lead;
  if (lead === undefined || lead.deletedAt !== undefined || lead.excluded === true || lead.merged)
    return undefined;
  return lead;
}

/**
 * A qualified lead's contact was deleted in Dynamics while the lead is still there. A fresh load of
 * the same data sees only the qualified lead and makes a live person following it; so the person
 * falls back to its lead here too, taking the lead's values (three-way merged, so unpushed marketing
 * edits survive) instead of being flagged deleted. The contact stays recorded, marked deleted.
 */
function fallBackToLead(
  profile: EntityProfile,
  doc: PersonRecord,
  contact: PersonSource,
  lead: PersonSource,
  now: string,
): PersonRecord {
  const rules = profile.fallbackFields;
  const row: MappedRow = { ...lead, filter: null, lookupNames: {} };
  const merge = threeWayMerge(
    rules,
    incomingMarketingValues(rules, row),
    doc.sync.agreed,
    marketingValues(doc, rules),
  );
  const { excluded: _excluded, deletedInDynamics: _deleted, merged: _merged, ...keptSync } = doc.sync;
  return {
    ...doc,
    ...merge.values,
    type: 'lead',
    dynamics: withDynamicsRow(
      { ...doc.dynamics, contact: { ...contact, deletedAt: now } },
      'lead',
      versionOf(row),
      undefined,
    ),
    sync: { ...keptSync, updatedAt: now, agreed: { ...doc.sync.agreed, ...merge.agreed } },
  };
}
