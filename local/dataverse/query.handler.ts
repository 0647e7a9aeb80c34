import type { Row, TableState } from './data.store';
import { parseFilter, parseFilterPlan, parseOrderBy } from './odata-query';
import { decodeSkipToken, encodeSkipToken, parsePrefer, type PageCookie } from './paging.cookie';
import { countChanges, readChanges } from './change-tracking.handler';
import { pageLink, pageSizeOf, readPage } from './row.pager';
import { pageWriter, projectRow, rowSerializer } from './row.serializer';
import { errors } from './simulator.errors';
import type { ApiRequest, ApiResponse, WebApiContext } from './web-api.protocol';
import {
  annotationsOf,
  contextUrl,
  json,
  jsonText,
  noContent,
  preferenceApplied,
  readsOf,
  selectOf,
} from './web-api.protocol';

// Reads: one row by key, a collection with $filter/$orderby/$top/$count and paging, and
// `/$count`. Collection reads that track changes are handed to the change-tracking handler.

/** Dataverse counts no further than this, in `@odata.count` and `/$count` alike. */
const COUNT_CAP = 5000;

export const retrieve = (ctx: WebApiContext, state: TableState, id: string, req: ApiRequest): ApiResponse => {
  ctx.privileges.assert(state.def, 'read', req.userId);
  const select = selectOf(req, state.def);
  const row = state.rows.get(id);
  if (!row) throw errors.notFound(state.def.logicalName, id);
  const inm = req.headers['if-none-match'];
  if (inm && inm === `W/"${row.version}"`) return noContent(304);
  const prefer = parsePrefer(req.headers.prefer);
  return {
    ...json(
      200,
      {
        '@odata.context': contextUrl(ctx, state, select, '/$entity'),
        ...projectRow(ctx.store, state, row, select, annotationsOf(prefer)),
      },
      preferenceApplied(prefer),
    ),
    reads: readsOf(1, select, state.def),
  };
};

export const query = (ctx: WebApiContext, state: TableState, req: ApiRequest): ApiResponse => {
  ctx.privileges.assert(state.def, 'read', req.userId);
  const prefer = parsePrefer(req.headers.prefer);
  const skip = req.query.get('$skiptoken');
  const cookie = skip !== null ? decodeSkipToken(skip) : undefined;
  if (skip !== null && !cookie) throw errors.badRequest('The $skiptoken is invalid.');
  const deltaToken = req.query.get('$deltatoken');
  if (deltaToken !== null || prefer.trackChanges || cookie?.tracking)
    return readChanges(ctx, state, req, prefer, deltaToken, cookie);
  rejectUnsupported(req);
  const def = state.def;
  const select = selectOf(req, def);
  const filterText = req.query.get('$filter');
  const filter = filterText !== null ? parseFilterPlan(filterText, def) : undefined;
  const orderText = req.query.get('$orderby');
  const order = orderText !== null ? parseOrderBy(orderText, def) : [];
  let pageSize = pageSizeOf(ctx, prefer);
  const topText = req.query.get('$top');
  let top: number | undefined;
  if (topText !== null) {
    top = Number(topText);
    if (!Number.isInteger(top) || top < 0)
      throw errors.badRequest(`Invalid value '${topText}' for $top query option found.`);
    // With a page size the real service ignores $top.
    if (prefer.maxPageSize === undefined) pageSize = Math.min(top, pageSize);
    else top = undefined;
  }
  const wantCount = req.query.get('$count') === 'true';
  const { rows, more, total } = readPage(state, filter, order, pageSize, cookie, wantCount);
  const annotate = annotationsOf(prefer);
  const head: Record<string, unknown> = { '@odata.context': contextUrl(ctx, state, select) };
  if (wantCount) head['@odata.count'] = Math.min(total ?? 0, COUNT_CAP);
  const body = pageWriter(head, rows.length);
  const serialize = rowSerializer(ctx.store, state, select, annotate);
  for (const row of rows) body.row(serialize(row));
  const tail: Record<string, unknown> = {};
  if (more && top === undefined) {
    const last = rows[rows.length - 1] as Row;
    const next: PageCookie = {
      page: (cookie?.page ?? 1) + 1,
      lastId: last.id,
      ...(order.length > 0 ? { keys: order.map((k) => last.values[k.column.name] ?? null) } : {}),
    };
    tail['@odata.nextLink'] = pageLink(ctx, state, req, { $skiptoken: encodeSkipToken(next) });
  }
  return {
    ...jsonText(200, body.end(tail), preferenceApplied(prefer, pageSize)),
    reads: readsOf(rows.length, select, def),
  };
};

export const count = (ctx: WebApiContext, state: TableState, req: ApiRequest): ApiResponse => {
  const text = (n: number): ApiResponse => ({
    status: 200,
    headers: { 'Content-Type': 'text/plain', 'OData-Version': '4.0' },
    body: String(n),
  });
  const deltaToken = req.query.get('$deltatoken');
  if (deltaToken !== null) return text(countChanges(ctx, state, deltaToken));
  const filterText = req.query.get('$filter');
  if (filterText === null) return text(Math.min(state.rows.size, COUNT_CAP));
  const filter = parseFilter(filterText, state.def);
  let n = 0;
  for (const row of state.rows.values()) if (filter(row.values)) n++;
  return text(Math.min(n, COUNT_CAP));
};

function rejectUnsupported(req: ApiRequest): void {
  if (req.query.has('$skip')) throw errors.badRequest('The query parameter $skip is not supported');
  if (req.query.has('$expand')) throw errors.badRequest('The simulator does not support $expand.');
  if (req.query.has('$apply')) throw errors.badRequest('The simulator does not support $apply.');
}
