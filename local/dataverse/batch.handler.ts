import type { DataStore } from './data.store';
import {
  formatBatchResponse,
  parseBatch,
  type BatchHttpRequest,
  type BatchHttpResponse,
  type BatchResultItem,
} from './batch.codec';
import { parsePrefer } from './paging.cookie';
import { DataverseSimulatorError, errors } from './simulator.errors';
import { errorResponse, type ApiResponse, type WebApi } from './web-api.handler';

export const MAX_BATCH_REQUESTS = 1000;

class ChangesetFailed extends Error {
  constructor(readonly response: BatchHttpResponse) {
    super('changeset failed');
  }
}

export interface BatchContext {
  api: WebApi;
  store: DataStore;
  apiUrl: string;
  userId: string;
}

const splitUrl = (
  raw: string,
  apiUrl: string,
  contentIds: Map<string, string>,
): { path: string; query: string } => {
  let url = raw;
  const ref = /^\$([A-Za-z0-9_-]+)(.*)$/.exec(url);
  if (ref) {
    const target = contentIds.get(ref[1] as string);
    if (!target)
      throw errors.badRequest(`Content-ID reference '$${ref[1] ?? ''}' was not found.`, '0x80048d19');
    url = `${target}${ref[2] ?? ''}`;
  }
  const api = new URL(apiUrl);
  if (/^https?:\/\//i.test(url)) url = new URL(url).pathname + new URL(url).search;
  const q = url.indexOf('?');
  let path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  if (path.startsWith(api.pathname)) path = path.slice(api.pathname.length);
  else path = path.replace(/^\/?api\/data\/v9\.\d\//, '');
  return { path: path.replace(/^\/+/, ''), query };
};

/** Executes a `$batch` request. Changesets run atomically through the store's undo log. */
export const runBatch = (
  ctx: BatchContext,
  body: string,
  headers: Record<string, string | undefined>,
): ApiResponse => {
  let items;
  try {
    items = parseBatch(body, headers['content-type']);
    const total = items.reduce((n, i) => n + (i.kind === 'request' ? 1 : i.requests.length), 0);
    if (total > MAX_BATCH_REQUESTS) throw errors.batchTooLarge(MAX_BATCH_REQUESTS);
  } catch (err) {
    if (err instanceof DataverseSimulatorError) return errorResponse(err);
    throw err;
  }
  const continueOnError = parsePrefer(headers.prefer).continueOnError;
  const results: BatchResultItem[] = [];
  let failed = false;

  const exec = (r: BatchHttpRequest, contentIds: Map<string, string>): BatchHttpResponse => {
    let path: string;
    let query: string;
    try {
      ({ path, query } = splitUrl(r.url, ctx.apiUrl, contentIds));
    } catch (err) {
      if (err instanceof DataverseSimulatorError)
        return { ...errorResponse(err), ...(r.contentId ? { contentId: r.contentId } : {}) };
      throw err;
    }
    const res =
      path === '$batch'
        ? errorResponse(errors.badRequest('A batch cannot contain another batch.', '0x80048d19'))
        : ctx.api.handle({
            method: r.method,
            path,
            query: new URLSearchParams(query),
            headers: r.headers,
            body: r.body,
            userId: ctx.userId,
            contentIds,
          });
    return {
      ...res,
      body: typeof res.body === 'string' ? res.body : res.body.toString('utf8'),
      ...(r.contentId !== undefined ? { contentId: r.contentId } : {}),
    };
  };

  for (const item of items) {
    if (item.kind === 'request') {
      const res = exec(item.request, new Map());
      results.push({ kind: 'response', response: res });
      if (res.status >= 400) {
        failed = true;
        if (!continueOnError) break;
      }
      continue;
    }
    const contentIds = new Map<string, string>();
    try {
      const responses = ctx.store.atomically(() =>
        item.requests.map((r) => {
          if (r.method === 'GET') {
            const res = errorResponse(
              errors.badRequest('GET requests are not allowed inside a changeset.', '0x80048d19'),
            );
            throw new ChangesetFailed({ ...res, ...(r.contentId ? { contentId: r.contentId } : {}) });
          }
          const res = exec(r, contentIds);
          if (res.status >= 400) throw new ChangesetFailed(res);
          const entity = res.headers['OData-EntityId'];
          if (r.contentId !== undefined && entity) contentIds.set(r.contentId, entity);
          return res;
        }),
      );
      results.push({ kind: 'changeset', responses });
    } catch (err) {
      if (!(err instanceof ChangesetFailed)) throw err;
      // The real service answers a failed changeset with the failing request's response only.
      results.push({ kind: 'response', response: err.response });
      failed = true;
      if (!continueOnError) break;
    }
  }
  const { contentType, body: out } = formatBatchResponse(results);
  return {
    status: failed && !continueOnError ? 400 : 200,
    headers: {
      'Content-Type': contentType,
      'OData-Version': '4.0',
      ...(continueOnError ? { 'Preference-Applied': 'odata.continue-on-error' } : {}),
    },
    body: out,
  };
};
