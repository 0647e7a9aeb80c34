import type { Row, TableState } from './data.store';
import { toTime, type TimeRange } from './odata-query';

// A filtered read in key order tests rows until its page is full. When the filter is a narrow
// `createdon` range, as each range of a parallel initial load is, that is a walk over most of the
// table for every page: some 80 passes over a million rows for one load, on the simulator's single
// thread, where Dataverse answers from an index. This keeps one datetime column's rows sorted by
// time, so a range finds its candidates by binary search; the filter still decides every row.

interface ColumnIndex {
  revision: number;
  /** Times in ascending order, and where each row is in the table's key order (`sortedIds`). */
  times: Float64Array;
  positions: Int32Array;
  /** Rows whose value is not a readable time: the filter, not the index, decides them. */
  unreadable: number[];
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
  const ids = state.sortedIds;
  const timeAt = new Float64Array(ids.length);
  const order: number[] = [];
  const unreadable: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const value = (state.rows.get(ids[i] as string) as Row).values[column];
    if (value === null || value === undefined) continue;
    const time = toTime(value);
    timeAt[i] = time;
    if (Number.isNaN(time)) unreadable.push(i);
    else order.push(i);
  }
  order.sort((a, b) => (timeAt[a] as number) - (timeAt[b] as number));
  return {
    revision: state.revision,
    times: Float64Array.from(order, (i) => timeAt[i] as number),
    positions: Int32Array.from(order),
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
  // Positions in key order sort as numbers, far faster than the ids as strings.
  const positions = Int32Array.from([
    ...index.positions.subarray(start, Math.max(start, end)),
    ...index.unreadable,
  ]).sort();
  const ids = Array.from(positions, (at) => state.sortedIds[at] as string);
  const fresh = kept.filter((r) => r.revision === state.revision).slice(-(RANGES_KEPT - 1));
  fresh.push({ revision: state.revision, key, ids });
  rangesRead.set(state, fresh);
  return ids;
}
