import { z } from 'zod';
import { sameValue } from './content.hash';
import type { PersonFieldRule } from './entity.profile';
import { pendingEdits, planPush, pushStateOf } from './push.planner';
import type { FieldValue, FieldValues, PersonRecord } from './record.model';

/**
 * Drift: what verify finds where Cosmos DB and Dynamics disagree and the sync is not already on its
 * way to settle it. Pure rules; the verify use case feeds them one row or document at a time.
 */

/** Stable codes: scripts, alerts and the console filter on them. */
export const VERIFY_CODES = [
  'missing_in_cosmos',
  'gone_from_dynamics',
  'stale',
  'unpushed',
  'excluded',
] as const;
export type VerifyCode = (typeof VERIFY_CODES)[number];

export const findingSchema = z.object({
  code: z.enum(VERIFY_CODES),
  entity: z.string(),
  /** The Dynamics row id (for `unpushed`, the person's id). */
  id: z.string(),
  /** The person document holding the row, when it is not the row's own id. */
  personId: z.string().optional(),
  /** The fields that disagree (marketing names for people, column names otherwise); empty when the whole record does. */
  fields: z.array(z.string()),
  detail: z.string(),
});
export type Finding = z.output<typeof findingSchema>;

/**
 * Dynamics' clock and ours may disagree: a change stamped this close before the last caught-up pull
 * started may not have been in it, so it counts as in flight.
 */
export const CLOCK_SKEW_MS = 60_000;

/** What decides whether a disagreement is in flight (the sync will settle it) or drift. */
export interface SyncWindow {
  /** Start of the last pull that reached the end of the change feed; undefined before the first. */
  caughtUpFrom: string | undefined;
  /** Rows with changes (or deletions) waiting in the change feed since the pull's saved link. */
  pending: ReadonlySet<string>;
  /** A paused entity settles nothing until an operator acts: nothing of it is in flight. */
  paused: boolean;
}

/** A change the next pull will bring: newer than the last caught-up pull, or waiting in the feed. */
export function inFlight(window: SyncWindow, rowId: string, modifiedon: string | null): boolean {
  if (window.paused) return false;
  if (window.caughtUpFrom === undefined) return true;
  if (window.pending.has(rowId)) return true;
  if (modifiedon === null) return false;
  return Date.parse(modifiedon) >= Date.parse(window.caughtUpFrom) - CLOCK_SKEW_MS;
}

/** A Dynamics row as verify read it (mapped as the pull maps it). */
export interface RowState {
  id: string;
  versionnumber: number;
  modifiedon: string | null;
  hash: string;
  /** The sync filter column; null when the table has none. */
  filter: boolean | null;
  values: FieldValues;
  statecode: FieldValue;
  statuscode: FieldValue;
  /** Display names of the row's lookups: they change with the target row, not this row's version. */
  lookupNames: Record<string, string>;
}

/** What Cosmos holds of that row; undefined when no document holds it. */
export interface StoredRow {
  /** The document holding the row (a person may hold it under its lead's id). */
  docId: string;
  versionnumber: number;
  hash: string;
  values: FieldValues;
  statecode: FieldValue;
  statuscode: FieldValue;
  /** Flagged excluded by the filter (the row's source or the record). */
  excluded: boolean;
  /** The row's source is marked deleted. */
  deleted: boolean;
  /** The record (the person) is flagged deleted in Dynamics although this row is live. */
  recordDeleted: boolean;
  /** Forgotten on request: the sync leaves it alone on purpose, so it never drifts. */
  suppressed: boolean;
}

export type RowVerdict =
  | { kind: 'in_sync' }
  /** Excluded by the filter in Dynamics and so, rightly, absent or flagged in Cosmos. */
  | { kind: 'filtered_out' }
  | { kind: 'in_flight'; code: VerifyCode }
  /**
   * Only a lookup's display name differs: its target was renamed, which moves neither this row's
   * version nor the change feed, so no pull would ever bring it. Not drift; verify reads it again.
   */
  | { kind: 'renamed'; id: string; lookups: string[] }
  | { kind: 'drift'; finding: Finding };

/** Fields whose values differ, by name, sorted. */
export function differingFields(a: FieldValues, b: FieldValues): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].filter((name) => !sameValue(a[name] ?? null, b[name] ?? null)).sort();
}

/** One Dynamics row against what Cosmos holds of it. */
export function classifyRow(
  entity: string,
  row: RowState,
  stored: StoredRow | undefined,
  window: SyncWindow,
  filterColumn: string | undefined,
): RowVerdict {
  const drift = (code: VerifyCode, fields: string[], detail: string): RowVerdict => {
    if (inFlight(window, row.id, row.modifiedon)) return { kind: 'in_flight', code };
    const personId = stored !== undefined && stored.docId !== row.id ? { personId: stored.docId } : {};
    return { kind: 'drift', finding: { code, entity, id: row.id, ...personId, fields, detail } };
  };
  if (row.filter === false) {
    if (stored === undefined || stored.excluded || stored.deleted) return { kind: 'filtered_out' };
    return drift(
      'excluded',
      filterColumn !== undefined ? [filterColumn] : [],
      'excluded by the sync filter in Dynamics, but the Cosmos copy is not flagged excluded',
    );
  }
  if (stored === undefined) return drift('missing_in_cosmos', [], 'in Dynamics, not in Cosmos');
  if (stored.suppressed) return { kind: 'in_sync' };
  if (stored.deleted || stored.recordDeleted) {
    return drift(
      'stale',
      ['deletedInDynamics'],
      'flagged deleted in Cosmos while the row is live in Dynamics',
    );
  }
  if (stored.excluded) {
    return drift(
      'stale',
      filterColumn !== undefined ? [filterColumn] : [],
      'flagged excluded in Cosmos while the sync filter includes the row',
    );
  }
  // The pull treats a stored higher version as newer (a replayed page); so does verify.
  if (stored.hash === row.hash || stored.versionnumber > row.versionnumber) return { kind: 'in_sync' };
  const fields = differingFields(
    { ...row.values, statecode: row.statecode, statuscode: row.statuscode },
    { ...stored.values, statecode: stored.statecode, statuscode: stored.statuscode },
  );
  if (fields.length === 0 && stored.versionnumber === row.versionnumber) {
    // Same version, values and state: what changed is a lookup's display name (its target was
    // renamed or deleted), which moves neither this row's version nor the change feed.
    return { kind: 'renamed', id: row.id, lookups: Object.keys(row.lookupNames).sort() };
  }
  return drift(
    'stale',
    fields,
    `Dynamics has version ${row.versionnumber}, Cosmos holds ${stored.versionnumber}`,
  );
}

/** A Cosmos record of a row verify did not find in Dynamics. */
export interface OrphanState {
  entity: string;
  rowId: string;
  docId: string;
  /** Already flagged deleted (or the row's source marked deleted): nothing to do. */
  flaggedDeleted: boolean;
  /** Read again by id after the scan and still absent (a row created during the scan is not). */
  confirmedAbsent: boolean;
}

export type OrphanVerdict = { kind: 'in_sync' } | { kind: 'in_flight' } | { kind: 'drift'; finding: Finding };

/** A stored record whose row Dynamics no longer has. */
export function classifyOrphan(state: OrphanState, window: SyncWindow): OrphanVerdict {
  if (state.flaggedDeleted || !state.confirmedAbsent) return { kind: 'in_sync' };
  // A deletion carries no time: it is in flight while its tombstone waits in the feed.
  if (!window.paused && (window.caughtUpFrom === undefined || window.pending.has(state.rowId))) {
    return { kind: 'in_flight' };
  }
  return {
    kind: 'drift',
    finding: {
      code: 'gone_from_dynamics',
      entity: state.entity,
      id: state.rowId,
      ...(state.docId !== state.rowId ? { personId: state.docId } : {}),
      fields: [],
      detail: 'gone from Dynamics, but the Cosmos record is not flagged deleted',
    },
  };
}

export type PushVerdict = { kind: 'none' } | { kind: 'in_flight' } | { kind: 'drift'; finding: Finding };

/**
 * Marketing edits of a person not in Dynamics. An edit younger than the push window is on its way
 * (the pusher, then its retries); a parked or refused one, or one older than the window, is drift.
 * `lastWriteMs` is when the document was last written (Cosmos `_ts`), the latest the edit can be.
 */
export function classifyPush(
  entity: string,
  person: PersonRecord,
  rules: readonly PersonFieldRule[],
  lastWriteMs: number,
  now: number,
  windowMs: number,
): PushVerdict {
  const plan = planPush(person, rules);
  const state = pushStateOf(person);
  let since = lastWriteMs;
  let fields: string[];
  if (plan.kind === 'push') {
    fields = Object.keys(plan.changes);
  } else if (plan.kind === 'invalid') {
    fields = plan.fields;
    since = 0;
  } else if (plan.kind === 'skip' && ['retry_pending', 'parked', 'error_recorded'].includes(plan.reason)) {
    fields = Object.keys(pendingEdits(person, rules));
    // A retry series runs inside the window from its first failure; a parked or refused edit is done trying.
    since = plan.reason === 'retry_pending' && state !== undefined ? Date.parse(state.at) : 0;
  } else {
    return { kind: 'none' };
  }
  if (now - since < windowMs) return { kind: 'in_flight' };
  const why =
    plan.kind === 'skip' && plan.reason === 'parked'
      ? 'parked after its retries ran out'
      : plan.kind === 'invalid' || (plan.kind === 'skip' && plan.reason === 'error_recorded')
        ? 'refused (see its sync error)'
        : `not pushed within ${Math.round(windowMs / 60_000)} minutes`;
  return {
    kind: 'drift',
    finding: {
      code: 'unpushed',
      entity,
      id: person.id,
      fields: fields.sort(),
      detail: `marketing edit ${why}`,
    },
  };
}

/** Counts of one entity's verify, by outcome and by finding code. */
export interface VerifyCounts {
  /** Dynamics rows read. */
  rows: number;
  /** Cosmos records read. */
  stored: number;
  inSync: number;
  inFlight: number;
  /** Rows the sync filter excludes, rightly absent or flagged in Cosmos. */
  filteredOut: number;
  /** Rows whose only difference is a lookup's display name (read again by verify, not drift). */
  renamed: number;
  findings: Record<VerifyCode, number>;
}

export const emptyCounts = (): VerifyCounts => ({
  rows: 0,
  stored: 0,
  inSync: 0,
  inFlight: 0,
  filteredOut: 0,
  renamed: 0,
  findings: {
    missing_in_cosmos: 0,
    gone_from_dynamics: 0,
    stale: 0,
    unpushed: 0,
    excluded: 0,
  },
});

export const driftOf = (counts: VerifyCounts): number =>
  VERIFY_CODES.reduce((sum, code) => sum + counts.findings[code], 0);

/** Finding records kept per entity in the stored result and the answer: enough to act on, bounded. */
export const SAMPLE_SIZE = 50;

/** The counter each verdict without a finding adds to. */
const TALLY = {
  in_sync: 'inSync',
  filtered_out: 'filteredOut',
  in_flight: 'inFlight',
  renamed: 'renamed',
} as const satisfies Record<string, keyof VerifyCounts>;

/** Folds a verdict into the counts; answers the finding to keep, if any. */
export function countVerdict(
  counts: VerifyCounts,
  verdict: RowVerdict | OrphanVerdict | PushVerdict,
): Finding | undefined {
  if (verdict.kind === 'none') return undefined;
  if (verdict.kind === 'drift') {
    counts.findings[verdict.finding.code] += 1;
    return verdict.finding;
  }
  counts[TALLY[verdict.kind]] += 1;
  return undefined;
}
