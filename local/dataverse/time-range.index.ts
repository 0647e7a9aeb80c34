import type { TableState } from './data.store';
import { toTime, type TimeRange } from './odata-query';

// A filtered read in key order tests rows until its page is full. When the filter is a narrow
// `createdon` range, as each range of a parallel initial load is, that is a walk over most of the
// table for every page: some 80 passes over a million rows for one load, on the simulator's single
// thread, where Dataverse answers from an index. This keeps one datetime column's rows sorted by
// time, so a range finds its candidates by binary search; the filter still decides every row.

interface ColumnIndex {
  revision: number;
  /** Times in ascending order, and the row each belongs to. */
  times: Float64Array;
  ids: string[];
  /** Rows whose value is not a readable time: the filter, not the index, decides them. */
  unreadable: string[];
}

interface RangeIds {
  revision: number;
  key: string;
  ids: string[];
}

const columnIndexes = new WeakMap<TableState, Map<string, ColumnIndex>>();
const rangesRead = new WeakMap<TableState, RangeIds[]>();
/** A parallel load reads each range in a few pages, up to eight ranges at once. */
const RANGES_KEPT = 16;

function buildIndex(state: TableState, column: string): ColumnIndex {
  const entries: { time: number; id: string }[] = [];
  const unreadable: string[] = [];
  for (const row of state.rows.values()) {
    const value = row.values[column];
    if (value === null || value === undefined) continue;
    const time = toTime(value);
    if (Number.isNaN(time)) unreadable.push(row.id);
    else entries.push({ time, id: row.id });
  }
  entries.sort((a, b) => a.time - b.time);
  return {
    revision: state.revision,
    times: Float64Array.from(entries, (e) => e.time),
    ids: entries.map((e) => e.id),
    unreadable,
  };
}

function indexOf(state: TableState, column: string): ColumnIndex {
  let byColumn = columnIndexes.get(state);
  if (!byColumn) columnIndexes.set(state, (byColumn = new Map()));
  const known = byColumn.get(column);
  if (known?.revision === state.revision) return known;
  const built = buildIndex(state, column);
  byColumn.set(column, built);
  return built;
}

/** First position whose time is above `time` (or at least `time` when `inclusive`). */
function boundary(times: Float64Array, time: number, inclusive: boolean): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const t = times[mid] as number;
    if (t < time || (!inclusive && t === time)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Primary keys, ascending, of every row the range may hold: all rows whose column lies inside it,
 * and any whose value is not a time. Rows without a value are left out: no bound matches null.
 */
export function idsInRange(state: TableState, range: TimeRange): string[] {
  const key = `${range.column}|${range.from}|${range.fromInclusive}|${range.to}|${range.toInclusive}`;
  const kept = rangesRead.get(state) ?? [];
  const hit = kept.find((r) => r.key === key && r.revision === state.revision);
  if (hit) return hit.ids;
  const index = indexOf(state, range.column);
  const start = boundary(index.times, range.from, range.fromInclusive);
  const end = boundary(index.times, range.to, !range.toInclusive);
  const ids = index.ids.slice(start, Math.max(start, end)).concat(index.unreadable).sort();
  const fresh = kept.filter((r) => r.revision === state.revision).slice(-(RANGES_KEPT - 1));
  fresh.push({ revision: state.revision, key, ids });
  rangesRead.set(state, fresh);
  return ids;
}
