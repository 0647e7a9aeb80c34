import type { Row, TableState } from './data.store';
import {
  decodeDeltaToken,
  encodeDeltaToken,
  encodeSkipToken,
  type PageCookie,
  type PreferHeader,
} from './paging.cookie';
import { pageLink, pageSizeOf, readPage } from './row.pager';
import { pageWriter, rowSerializer } from './row.serializer';
import { errors } from './simulator.errors';
import type { ApiRequest, ApiResponse, WebApiContext } from './web-api.protocol';
import {
  annotationsOf,
  contextUrl,
  jsonText,
  preferenceApplied,
  readsOf,
  selectOf,
} from './web-api.protocol';

// Change tracking: the initial load (every row, in key order, ending in a deltaLink) and delta
// reads (rows changed since the token's version, then tombstones, ending in a fresh deltaLink).

/** A collection read with `odata.track-changes`, a `$deltatoken`, or the skiptoken of either. */
export const readChanges = (
  ctx: WebApiContext,
  state: TableState,
  req: ApiRequest,
  prefer: PreferHeader,
  deltaToken: string | null,
  cookie: PageCookie | undefined,
): ApiResponse => {
  if (!state.tracked) throw errors.notTracked(state.def.logicalName);
  refuseWithTracking(req);
  if (deltaToken !== null) return deltaRead(ctx, state, req, prefer, deltaToken, cookie);
  return initialLoad(ctx, state, req, prefer, cookie);
};

/** `$count` with a `$deltatoken`: how many changes the next delta read would return. */
export const countChanges = (ctx: WebApiContext, state: TableState, tokenText: string): number => {
  if (!state.tracked) throw errors.notTracked(state.def.logicalName);
  const from = checkToken(ctx, state, tokenText);
  const { upserts, deletes } = ctx.store.changesBetween(state, from, ctx.store.version);
  return upserts.length + deletes.length;
};

function refuseWithTracking(req: ApiRequest): void {
  for (const p of ['$filter', '$orderby', '$top', '$expand']) {
    if (req.query.has(p)) throw errors.trackingRefused(p);
  }
}

function initialLoad(
  ctx: WebApiContext,
  state: TableState,
  req: ApiRequest,
  prefer: PreferHeader,
  cookie: PageCookie | undefined,
): ApiResponse {
  const select = selectOf(req, state.def);
  const pageSize = pageSizeOf(ctx, prefer);
  const startVersion = cookie?.startVersion ?? ctx.store.version;
  const { rows, more } = readPage(state, undefined, [], pageSize, cookie, false);
  const annotate = annotationsOf(prefer);
  const body = pageWriter({ '@odata.context': contextUrl(ctx, state, select) }, rows.length);
  const serialize = rowSerializer(ctx.store, state, select, annotate);
  for (const row of rows) body.row(serialize(row));
  const tail: Record<string, unknown> = {};
  if (more) {
    const next: PageCookie = {
      page: (cookie?.page ?? 1) + 1,
      lastId: (rows[rows.length - 1] as Row).id,
      startVersion,
      tracking: true,
    };
    tail['@odata.nextLink'] = pageLink(ctx, state, req, { $skiptoken: encodeSkipToken(next) });
  } else {
    // 'end' reproduces the real hazard: rows edited behind the load's cursor are not in the next delta.
    const version = ctx.initialTokenAt === 'start' ? startVersion : ctx.store.version;
    tail['@odata.deltaLink'] = deltaLink(ctx, state, req, version);
  }
  return {
    ...jsonText(200, body.end(tail), preferenceApplied({ ...prefer, trackChanges: true }, pageSize)),
    reads: readsOf(rows.length, select, state.def),
  };
}

function deltaRead(
  ctx: WebApiContext,
  state: TableState,
  req: ApiRequest,
  prefer: PreferHeader,
  tokenText: string,
  cookie: PageCookie | undefined,
): ApiResponse {
  const def = state.def;
  const from = checkToken(ctx, state, tokenText);
  const select = selectOf(req, def);
  const pageSize = pageSizeOf(ctx, prefer);
  const upTo = cookie?.upTo ?? ctx.store.version;
  const offset = cookie?.offset ?? 0;
  const { upserts, deletes } = ctx.store.changesBetween(state, from, upTo);
  const all = [...upserts, ...deletes];
  const slice = all.slice(offset, offset + pageSize);
  const serialize = rowSerializer(ctx.store, state, select, annotationsOf(prefer));
  const deletedContext = `${ctx.apiUrl}$metadata#${def.entitySetName}/$deletedEntity`;
  const body = pageWriter({ '@odata.context': contextUrl(ctx, state, select, '/$delta') }, slice.length);
  for (const entry of slice) {
    if (entry.deleted) {
      body.row(JSON.stringify({ '@odata.context': deletedContext, id: entry.id, reason: 'deleted' }));
      continue;
    }
    const row = state.rows.get(entry.id);
    // Deleted after this read's upper bound: its tombstone comes in the next delta.
    if (row) body.row(serialize(row));
  }
  const tail: Record<string, unknown> = {};
  if (offset + pageSize < all.length) {
    const next: PageCookie = {
      page: (cookie?.page ?? 1) + 1,
      upTo,
      offset: offset + pageSize,
      tracking: true,
    };
    tail['@odata.nextLink'] = pageLink(ctx, state, req, {
      $deltatoken: tokenText,
      $skiptoken: encodeSkipToken(next),
    });
  } else {
    tail['@odata.deltaLink'] = deltaLink(ctx, state, req, upTo);
  }
  return {
    ...jsonText(200, body.end(tail), preferenceApplied({ ...prefer, trackChanges: true }, pageSize)),
    reads: readsOf(slice.length, select, def),
  };
}

function deltaLink(ctx: WebApiContext, state: TableState, req: ApiRequest, version: number): string {
  const token = encodeDeltaToken({ version, epoch: state.tokenEpoch, issuedAt: ctx.now() });
  return pageLink(ctx, state, req, { $deltatoken: token });
}

/** The version a delta token reads from; expired, foreign and malformed tokens all fail alike. */
function checkToken(ctx: WebApiContext, state: TableState, text: string): number {
  const token = decodeDeltaToken(text);
  const maxAge = ctx.retentionDays * 86400_000;
  if (
    !token ||
    token.epoch < state.tokenEpoch ||
    token.version > ctx.store.version ||
    ctx.now() - token.issuedAt > maxAge
  ) {
    throw errors.tokenExpired();
  }
  return token.version;
}
