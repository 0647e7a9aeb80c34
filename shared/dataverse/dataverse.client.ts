import { z } from 'zod';
import {
  type BatchEntry,
  type BatchItemResult,
  type BatchRequest,
  decodeBatchResponse,
  encodeBatch,
  matchBatchResults,
} from './batch.codec';
import { DataverseError, mapHttpError } from './dataverse.errors';
import { encodeQuery, entityPath, type FilterExpression, identifier, type ODataValue } from './odata.query';
import type { ThrottleGovernor } from './throttle.governor';
import type { TokenProvider } from './token.provider';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export type QueryValue = string | number | boolean | FilterExpression | undefined;

export interface DataverseRequestOptions {
  method: HttpMethod;
  /** Relative to the API root (`contacts(…)`, `$batch`) or an absolute URL on the org's origin. */
  path?: string;
  url?: string;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  /** Objects go as JSON; strings are sent as given (set Content-Type in headers). */
  body?: unknown;
  prefer?: string[];
  /** Whether a retry can never cause a second effect. Default: every method but POST. */
  idempotent?: boolean;
  /** A multipart answer is returned as is even with an error status ($batch answers 400 when it stopped). */
  acceptMultipart?: boolean;
}

export interface DataverseResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

export interface DataverseClientOptions {
  /** The organization URL, e.g. https://contoso.crm.dynamics.com */
  baseUrl: string;
  apiPath?: string;
  tokenProvider: TokenProvider;
  governor: ThrottleGovernor;
  fetch?: FetchLike;
  requestTimeoutMs?: number;
  now?: () => number;
}

export interface PageOptions {
  pageSize?: number;
  prefer?: string[];
}

export interface Page<T = Record<string, unknown>> {
  rows: T[];
  nextLink?: string;
  deltaLink?: string;
  context?: string;
  count?: number;
  headers: Headers;
}

export const collectionSchema = z.object({
  '@odata.context': z.string().optional(),
  '@odata.nextLink': z.string().optional(),
  '@odata.deltaLink': z.string().optional(),
  '@odata.count': z.number().optional(),
  // Rows are checked to be objects, not copied key by key (z.record would rebuild every row of a
  // 5000-row page); each row is validated field by field later, per entity.
  value: z.array(
    z.custom<Record<string, unknown>>(
      (row) => typeof row === 'object' && row !== null && !Array.isArray(row),
    ),
  ),
});

export const whoAmISchema = z.object({
  BusinessUnitId: z.string(),
  UserId: z.string(),
  OrganizationId: z.string(),
});
export type WhoAmI = z.infer<typeof whoAmISchema>;

export interface CreateResult {
  id: string;
  row?: Record<string, unknown>;
  etag?: string;
}

export interface WriteResult {
  /** Absent only for an alternate-key write the service answered without OData-EntityId. */
  id?: string;
  row?: Record<string, unknown>;
  etag?: string;
}

export interface WriteOptions {
  returnRepresentation?: boolean;
  /** The primary key column, to read the id from a returned row when no OData-EntityId header came. */
  keyColumn?: string;
  headers?: Record<string, string>;
}

export interface BatchOptions {
  /** Prefer: odata.continue-on-error — every request runs and reports its own status. */
  continueOnError?: boolean;
  /** 'single' wraps all the (write) requests into one atomic changeset; 'as-given' (default) keeps the entries as passed. */
  changesets?: 'as-given' | 'single';
}

export const MAX_PAGE_SIZE = 5000;

const entityIdPattern =
  /\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)\s*$/;

/** Extracts the GUID from an `OData-EntityId: https://org/api/data/v9.2/contacts(<guid>)` header. */
export function idFromEntityIdHeader(value: string | null): string | undefined {
  if (!value) return undefined;
  return entityIdPattern.exec(value)?.[1]?.toLowerCase();
}

export function clampPageSize(pageSize: number | undefined): number {
  if (pageSize === undefined) return MAX_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new DataverseError(`Page size must be a positive integer, got ${pageSize}`, {
      code: 'validation',
      retryable: false,
    });
  }
  return Math.min(pageSize, MAX_PAGE_SIZE);
}

/**
 * The Dataverse Web API client: standard headers, bearer token (refreshed once on 401), every
 * attempt through the throttle governor, per-attempt timeout, typed errors.
 */
export class DataverseClient {
  readonly baseUrl: string;
  readonly apiUrl: string;
  private readonly origin: string;
  private readonly tokenProvider: TokenProvider;
  private readonly governor: ThrottleGovernor;
  private readonly fetchImpl: FetchLike;
  private readonly requestTimeoutMs: number;
  private readonly now: () => number;

  constructor(options: DataverseClientOptions) {
    const base = new URL(options.baseUrl);
    if (base.protocol !== 'https:' && !isLoopback(base.hostname)) {
      throw new DataverseError('The Dataverse URL must use https', {
        code: 'configuration',
        retryable: false,
      });
    }
    this.origin = base.origin;
    this.baseUrl = base.origin;
    const apiPath = `/${(options.apiPath ?? '/api/data/v9.2/').replace(/^\/+|\/+$/g, '')}/`;
    this.apiUrl = `${this.origin}${apiPath}`;
    this.tokenProvider = options.tokenProvider;
    this.governor = options.governor;
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.requestTimeoutMs = options.requestTimeoutMs ?? 120_000;
    this.now = options.now ?? Date.now;
  }

  /** Resolves a relative path or checks an absolute link; a link to another origin never gets our token. */
  resolveUrl(pathOrUrl: string, query?: Record<string, QueryValue>): URL {
    let url: URL;
    try {
      if (/^[a-z][a-z0-9+.-]*:/i.test(pathOrUrl) || pathOrUrl.startsWith('//'))
        url = new URL(pathOrUrl, this.apiUrl);
      else url = new URL(pathOrUrl.replace(/^\/+/, ''), this.apiUrl);
    } catch (error) {
      throw new DataverseError('Not a valid Dataverse URL', {
        code: 'validation',
        retryable: false,
        cause: error,
      });
    }
    if (url.origin !== this.origin) {
      throw new DataverseError(
        `Refusing to send a request to ${url.origin}: not the configured Dataverse origin`,
        {
          code: 'foreign_origin',
          retryable: false,
        },
      );
    }
    if (query) {
      const encoded = encodeQuery(query);
      if (encoded !== '') url.search = url.search ? `${url.search}&${encoded}` : `?${encoded}`;
    }
    return url;
  }

  async request<T = unknown>(options: DataverseRequestOptions): Promise<DataverseResponse<T>> {
    const target = options.url ?? options.path;
    if (target === undefined) {
      throw new DataverseError('request() needs a path or a url', {
        code: 'configuration',
        retryable: false,
      });
    }
    // Absolute links (nextLink, deltaLink) are used exactly as given: the URL object keeps them intact.
    const url = this.resolveUrl(target, options.query);
    const href = options.url !== undefined && options.query === undefined ? options.url : url.toString();
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'OData-MaxVersion': '4.0',
      'OData-Version': '4.0',
    };
    let body: string | undefined;
    if (options.body !== undefined) {
      if (typeof options.body === 'string') {
        body = options.body;
      } else {
        body = JSON.stringify(options.body);
        headers['Content-Type'] = 'application/json';
      }
    }
    if (options.prefer && options.prefer.length > 0) headers['Prefer'] = options.prefer.join(',');
    Object.assign(headers, options.headers ?? {});
    const idempotent = options.idempotent ?? options.method !== 'POST';
    let refreshed = false;
    return this.governor.run(
      async ({ ready }) => {
        for (;;) {
          const token = await this.tokenProvider.getToken(refreshed ? { forceRefresh: true } : undefined);
          await ready();
          const response = await this.send(
            href,
            url.pathname,
            options.method,
            { ...headers, Authorization: `Bearer ${token}` },
            body,
          );
          if (response.status === 401 && !refreshed) {
            // A token can expire or be revoked between msal's cache check and the call: refresh once.
            refreshed = true;
            continue;
          }
          return this.finish<T>(response, options, url.pathname);
        }
      },
      { idempotent },
    );
  }

  private async send(
    href: string,
    pathname: string,
    method: HttpMethod,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<RawResponse> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.requestTimeoutMs);
    try {
      const init: RequestInit = { method, headers, signal: controller.signal, redirect: 'manual' };
      if (body !== undefined) init.body = body;
      const response = await this.fetchImpl(href, init);
      // Read the body under the same timeout so a stalled stream cannot hang the caller.
      const text = await response.text();
      return { status: response.status, headers: response.headers, text };
    } catch (error) {
      if (controller.signal.aborted) {
        throw new DataverseError(
          `Dataverse request timed out after ${this.requestTimeoutMs} ms: ${method} ${pathname}`,
          {
            code: 'timeout',
            retryable: true,
            cause: error,
          },
        );
      }
      if (error instanceof DataverseError) throw error;
      const cause = (error as { cause?: { code?: string } }).cause ?? error;
      const code = (cause as { code?: string }).code;
      throw new DataverseError(`Network error on ${method} ${pathname}${code ? ` (${code})` : ''}`, {
        code: 'network',
        retryable: true,
        cause,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private finish<T>(
    response: RawResponse,
    options: DataverseRequestOptions,
    pathname: string,
  ): DataverseResponse<T> {
    const contentType = response.headers.get('content-type') ?? '';
    const text = response.text;
    if (options.acceptMultipart && /^multipart\/mixed/i.test(contentType)) {
      return { status: response.status, headers: response.headers, body: text as T };
    }
    if (response.status >= 300) {
      throw mapHttpError(response.status, response.headers, text, {
        method: options.method,
        path: pathname,
        nowMs: this.now(),
      });
    }
    if (text === '') return { status: response.status, headers: response.headers, body: undefined as T };
    if (/json/i.test(contentType)) {
      try {
        return { status: response.status, headers: response.headers, body: JSON.parse(text) as T };
      } catch (error) {
        throw new DataverseError(`Dataverse answered invalid JSON on ${options.method} ${pathname}`, {
          code: 'bad_response',
          retryable: true,
          status: response.status,
          cause: error,
        });
      }
    }
    return { status: response.status, headers: response.headers, body: text as T };
  }

  async get<T = Record<string, unknown>>(
    path: string,
    query?: Record<string, QueryValue>,
    options: { prefer?: string[]; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const response = await this.request<T>({ method: 'GET', path, ...(query ? { query } : {}), ...options });
    return response.body;
  }

  /** One page of a collection; `link` is a nextLink to follow unchanged, or a relative path with query. */
  async getPage(
    link: string,
    query: Record<string, QueryValue> | undefined,
    options: PageOptions = {},
  ): Promise<Page> {
    const prefer = (options.prefer ?? []).filter((p) => !p.startsWith('odata.maxpagesize'));
    prefer.push(`odata.maxpagesize=${clampPageSize(options.pageSize)}`);
    const isAbsolute = /^https?:\/\//i.test(link);
    const response = await this.request({
      method: 'GET',
      ...(isAbsolute ? { url: link } : { path: link }),
      ...(query ? { query } : {}),
      prefer,
    });
    const parsed = collectionSchema.safeParse(response.body);
    if (!parsed.success) {
      throw new DataverseError(`Unexpected collection shape from ${this.resolveUrl(link).pathname}`, {
        code: 'bad_response',
        retryable: false,
        status: response.status,
      });
    }
    const page: Page = { rows: parsed.data.value, headers: response.headers };
    if (parsed.data['@odata.nextLink'] !== undefined) page.nextLink = parsed.data['@odata.nextLink'];
    if (parsed.data['@odata.deltaLink'] !== undefined) page.deltaLink = parsed.data['@odata.deltaLink'];
    if (parsed.data['@odata.context'] !== undefined) page.context = parsed.data['@odata.context'];
    if (parsed.data['@odata.count'] !== undefined) page.count = parsed.data['@odata.count'];
    return page;
  }

  /** Pages of a query, following nextLink with the same Prefer; one page in memory at a time. */
  async *getPages(
    path: string,
    query?: Record<string, QueryValue>,
    options: PageOptions = {},
  ): AsyncGenerator<Page> {
    let page = await this.getPage(path, query, options);
    yield page;
    while (page.nextLink !== undefined) {
      page = await this.getPage(page.nextLink, undefined, options);
      yield page;
    }
  }

  /** Every row of a query, as an async iterator over the pages. */
  async *getAll(
    path: string,
    query?: Record<string, QueryValue>,
    options: PageOptions = {},
  ): AsyncGenerator<Record<string, unknown>> {
    for await (const page of this.getPages(path, query, options)) yield* page.rows;
  }

  async create(
    entitySet: string,
    data: Record<string, unknown>,
    options: WriteOptions = {},
  ): Promise<CreateResult> {
    const response = await this.request<Record<string, unknown> | undefined>({
      method: 'POST',
      path: identifier(entitySet),
      body: data,
      ...(options.returnRepresentation ? { prefer: ['return=representation'] } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
    });
    const result = this.writeResult(response, undefined, options.keyColumn);
    if (result.id === undefined) {
      throw new DataverseError('Dataverse did not return the id of the created row', {
        code: 'bad_response',
        retryable: false,
        status: response.status,
      });
    }
    return { ...result, id: result.id };
  }

  /** PATCH with If-Match: updates only an existing row (etag for optimistic concurrency, '*' for any version). */
  async update(
    entitySet: string,
    key: string | Record<string, ODataValue>,
    data: Record<string, unknown>,
    options: WriteOptions & { etag?: string } = {},
  ): Promise<WriteResult> {
    return this.patch(entitySet, key, data, { 'If-Match': options.etag ?? '*' }, options);
  }

  /** PATCH without conditions: Dataverse creates the row when the key is unknown. */
  async upsert(
    entitySet: string,
    key: string | Record<string, ODataValue>,
    data: Record<string, unknown>,
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    return this.patch(entitySet, key, data, {}, options);
  }

  /** PATCH with If-None-Match: * — creates with our id, 412 already_exists when it is there (idempotent create). */
  async createWithId(
    entitySet: string,
    id: string,
    data: Record<string, unknown>,
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    return this.patch(entitySet, id, data, { 'If-None-Match': '*' }, options);
  }

  private async patch(
    entitySet: string,
    key: string | Record<string, ODataValue>,
    data: Record<string, unknown>,
    conditions: Record<string, string>,
    options: WriteOptions,
  ): Promise<WriteResult> {
    const response = await this.request<Record<string, unknown> | undefined>({
      method: 'PATCH',
      path: entityPath(entitySet, key),
      body: data,
      headers: { ...conditions, ...(options.headers ?? {}) },
      ...(options.returnRepresentation ? { prefer: ['return=representation'] } : {}),
    });
    return this.writeResult(
      response,
      typeof key === 'string' ? key.toLowerCase() : undefined,
      options.keyColumn,
    );
  }

  private writeResult(
    response: DataverseResponse<Record<string, unknown> | undefined>,
    knownId: string | undefined,
    keyColumn: string | undefined,
  ): WriteResult {
    const row = response.body !== undefined && typeof response.body === 'object' ? response.body : undefined;
    const fromRow = keyColumn !== undefined ? row?.[keyColumn] : undefined;
    const id =
      idFromEntityIdHeader(response.headers.get('odata-entityid')) ??
      knownId ??
      (typeof fromRow === 'string' ? fromRow.toLowerCase() : undefined);
    const etag = (row?.['@odata.etag'] as string | undefined) ?? response.headers.get('etag') ?? undefined;
    const result: WriteResult = {};
    if (id !== undefined) result.id = id;
    if (row) result.row = row;
    if (etag) result.etag = etag;
    return result;
  }

  async delete(
    entitySet: string,
    key: string | Record<string, ODataValue>,
    options: { etag?: string } = {},
  ): Promise<void> {
    await this.request({
      method: 'DELETE',
      path: entityPath(entitySet, key),
      ...(options.etag ? { headers: { 'If-Match': options.etag } } : {}),
    });
  }

  /** `/<set>/$count` (text/plain; Dataverse caps it at 5000) or, with a deltatoken, the number of pending changes. */
  async count(entitySet: string, query?: Record<string, QueryValue>): Promise<number> {
    const body = await this.get<unknown>(`${identifier(entitySet)}/$count`, query, {
      headers: { Accept: 'text/plain' },
    });
    const value =
      typeof body === 'number'
        ? body
        : Number(
            String(body)
              .replace(/^\uFEFF/, '')
              .trim(),
          );
    if (!Number.isFinite(value)) {
      throw new DataverseError('Dataverse answered a non-numeric $count', {
        code: 'bad_response',
        retryable: false,
      });
    }
    return value;
  }

  async whoAmI(): Promise<WhoAmI> {
    const body = await this.get<unknown>('WhoAmI');
    const parsed = whoAmISchema.safeParse(body);
    if (!parsed.success) {
      throw new DataverseError('Unexpected WhoAmI response', { code: 'bad_response', retryable: false });
    }
    return parsed.data;
  }

  /**
   * Sends a $batch (one request toward the service limits) and returns one result per request, in
   * request order. Requests after a stop (no continue-on-error) come back with `executed: false`.
   */
  async executeBatch(entries: readonly BatchEntry[], options: BatchOptions = {}): Promise<BatchItemResult[]> {
    let shaped: BatchEntry[] = [...entries];
    if (options.changesets === 'single') {
      const flat: BatchRequest[] = entries.flatMap((e) => ('changeset' in e ? e.changeset : [e]));
      shaped = [{ changeset: flat }];
    }
    const encoded = encodeBatch(shaped, { apiUrl: this.apiUrl });
    const onlyIdempotent = encoded.entries.every((e) =>
      'changeset' in e ? e.changeset.every((r) => r.method !== 'POST') : e.method !== 'POST',
    );
    const response = await this.request<string>({
      method: 'POST',
      path: '$batch',
      body: encoded.body,
      headers: { 'Content-Type': encoded.contentType },
      ...(options.continueOnError ? { prefer: ['odata.continue-on-error'] } : {}),
      idempotent: onlyIdempotent,
      acceptMultipart: true,
    });
    const decoded = decodeBatchResponse(response.headers.get('content-type'), response.body);
    return matchBatchResults(encoded.entries, decoded);
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.');
}
