import { upperBoundId, type Row, type TableState } from './data.store';
import { makeComparator, type FilterPlan, type OrderKey, type Predicate } from './odata-query';
import type { PageCookie, PreferHeader } from './paging.cookie';
import { idsInRange } from './time-range.index';
import type { ApiRequest, WebApiContext } from './web-api.protocol';

// Paging shared by ordinary queries and change tracking: how large a page is, which rows it holds
// after the previous page's cookie, and the links that continue the chain.

/** The caller's odata.maxpagesize, never above the service's own limit. */
export const pageSizeOf = (ctx: WebApiContext, prefer: PreferHeader): number =>
  Math.min(prefer.maxPageSize ?? ctx.maxPageSize, ctx.maxPageSize);

/** The request again, its old tokens replaced by `extra`: what a nextLink or deltaLink is. */
export const pageLink = (
  ctx: WebApiContext,
  state: TableState,
  req: ApiRequest,
  extra: Record<string, string>,
): string => {
  const params: string[] = [];
  for (const [k, v] of req.query) {
    if (k === '$skiptoken' || k === '$deltatoken' || k in extra) continue;
    params.push(`${k}=${encodeURIComponent(v).replace(/%2C/g, ',')}`);
  }
  for (const [k, v] of Object.entries(extra)) params.push(`${k}=${encodeURIComponent(v)}`);
  return `${ctx.apiUrl}${state.def.entitySetName}?${params.join('&')}`;
};

export interface RowPage {
  rows: Row[];
  more: boolean;
  /** Rows matching in all; left out when the filter would have to run over the whole table for it. */
  total?: number;
}

/** One page of rows after the cookie's position, in order-by order (primary key when none). */
export const readPage = (
  state: TableState,
  filter: FilterPlan | undefined,
  order: OrderKey[],
  pageSize: number,
  cookie: PageCookie | undefined,
  wantCount: boolean,
): RowPage =>
  order.length === 0
    ? readInKeyOrder(state, filter, pageSize, cookie, wantCount)
    : readSorted(state, filter?.predicate, order, pageSize, cookie);

/**
 * Walks the ids kept sorted by the store, so a page costs its own rows, not a sort of the table;
 * under a datetime range only the ids the range may hold.
 */
function readInKeyOrder(
  state: TableState,
  plan: FilterPlan | undefined,
  pageSize: number,
  cookie: PageCookie | undefined,
  wantCount: boolean,
): RowPage {
  const rowsById = state.rows;
  const ids = plan?.range ? idsInRange(state, plan.range) : state.sortedIds;
  const filter = plan?.predicate;
  const start = cookie?.lastId ? upperBoundId(ids, cookie.lastId) : 0;
  const rows: Row[] = [];
  let more = false;
  if (!filter) {
    for (let i = start; i < ids.length; i++) {
      if (rows.length === pageSize) {
        more = true;
        break;
      }
      rows.push(rowsById.get(ids[i] as string) as Row);
    }
    return { rows, more, total: ids.length };
  }
  for (let i = start; i < ids.length; i++) {
    const row = rowsById.get(ids[i] as string) as Row;
    if (!filter(row.values)) continue;
    if (rows.length === pageSize) {
      more = true;
      break;
    }
    rows.push(row);
  }
  if (!wantCount) return { rows, more };
  let total = 0;
  for (const id of ids) if (filter((rowsById.get(id) as Row).values)) total++;
  return { rows, more, total };
}

/** Sorts the matching rows and finds the cookie's position in them by its order-by values. */
function readSorted(
  state: TableState,
  filter: Predicate | undefined,
  order: OrderKey[],
  pageSize: number,
  cookie: PageCookie | undefined,
): RowPage {
  const matching: Row[] = [];
  for (const row of state.rows.values()) if (!filter || filter(row.values)) matching.push(row);
  const cmp = makeComparator(order, state.def.primaryKey);
  matching.sort((a, b) => cmp(a.values, b.values));
  let start = 0;
  if (cookie?.lastId) {
    const probe: Record<string, unknown> = { [state.def.primaryKey]: cookie.lastId };
    order.forEach((k, i) => (probe[k.column.name] = cookie.keys?.[i] ?? null));
    let lo = 0;
    let hi = matching.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp((matching[mid] as Row).values, probe) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const rows = matching.slice(start, start + pageSize);
  return { rows, more: start + pageSize < matching.length, total: matching.length };
}
