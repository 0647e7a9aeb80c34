import { randomUUID } from 'node:crypto';
import { DataverseError } from './dataverse.errors';

/*
 * OData $batch in the multipart/mixed form Dataverse speaks. No npm multipart parser handles
 * HTTP messages nested in parts and changesets nested in the batch, so this is a small parser
 * over lines that accepts CRLF and bare LF alike.
 */

export const MAX_BATCH_REQUESTS = 1000;

export type BatchMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface BatchRequest {
  method: BatchMethod;
  /** Relative to the API root (`contacts(…)`), absolute (`https://org/api/data/v9.2/…`), or `$n` to refer to a Content-ID. */
  url: string;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as given. */
  body?: unknown;
  /** Only meaningful inside a changeset; assigned automatically there when missing. */
  contentId?: string;
}

export interface BatchChangeset {
  changeset: BatchRequest[];
}

export type BatchEntry = BatchRequest | BatchChangeset;

export const isChangeset = (entry: BatchEntry): entry is BatchChangeset => 'changeset' in entry;

export interface EncodedBatch {
  /** The entries as encoded, with every changeset request's Content-ID made explicit (pass these to matchBatchResults). */
  entries: BatchEntry[];
  contentType: string;
  body: string;
  boundary: string;
  requestCount: number;
}

export interface EncodeOptions {
  /** The API root the relative URLs resolve against, e.g. `https://org.crm.dynamics.com/api/data/v9.2/`. */
  apiUrl: string;
  /** For deterministic tests. */
  newId?: () => string;
}

const CRLF = '\r\n';

export function countRequests(entries: readonly BatchEntry[]): number {
  return entries.reduce((sum, entry) => sum + (isChangeset(entry) ? entry.changeset.length : 1), 0);
}

function resolveUrl(url: string, apiUrl: string): string {
  if (url.startsWith('$')) return url;
  if (/^https?:\/\//i.test(url)) return url;
  return new URL(url.replace(/^\/+/, ''), apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`).toString();
}

function encodeRequest(request: BatchRequest, apiUrl: string, inChangeset: boolean): string {
  const lines: string[] = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (request.contentId !== undefined) lines.push(`Content-ID: ${request.contentId}`);
  lines.push('');
  lines.push(`${request.method} ${resolveUrl(request.url, apiUrl)} HTTP/1.1`);
  const headers: Record<string, string> = { ...(request.headers ?? {}) };
  const hasBody = request.body !== undefined && request.method !== 'GET' && request.method !== 'DELETE';
  const lower = new Set(Object.keys(headers).map((k) => k.toLowerCase()));
  if (hasBody && !lower.has('content-type')) {
    headers['Content-Type'] = typeof request.body === 'string' ? 'text/plain' : 'application/json';
  }
  if (!lower.has('accept') && !inChangeset) headers['Accept'] = 'application/json';
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw new DataverseError(`Batch header ${name} contains a line break`, {
        code: 'validation',
        retryable: false,
      });
    }
    lines.push(`${name}: ${value}`);
  }
  lines.push('');
  if (hasBody) lines.push(typeof request.body === 'string' ? request.body : JSON.stringify(request.body));
  return lines.join(CRLF);
}

/** Encodes entries into a multipart/mixed $batch body. Throws before anything is sent when over the cap. */
export function encodeBatch(entries: readonly BatchEntry[], options: EncodeOptions): EncodedBatch {
  const total = countRequests(entries);
  if (total === 0) {
    throw new DataverseError('A $batch needs at least one request', { code: 'validation', retryable: false });
  }
  if (total > MAX_BATCH_REQUESTS) {
    throw new DataverseError(`A $batch holds at most ${MAX_BATCH_REQUESTS} requests, got ${total}`, {
      code: 'batch_too_large',
      retryable: false,
    });
  }
  const newId = options.newId ?? randomUUID;
  const boundary = `batch_${newId()}`;
  const chunks: string[] = [];
  const normalized = withContentIds(entries);
  for (const entry of normalized) {
    if (isChangeset(entry)) {
      if (entry.changeset.length === 0) {
        throw new DataverseError('An empty changeset', { code: 'validation', retryable: false });
      }
      const changesetBoundary = `changeset_${newId()}`;
      const inner = entry.changeset.map((request) => {
        if (request.method === 'GET') {
          throw new DataverseError('GET is not allowed inside a changeset', {
            code: 'validation',
            retryable: false,
          });
        }
        return `--${changesetBoundary}${CRLF}${encodeRequest(request, options.apiUrl, true)}`;
      });
      chunks.push(
        `--${boundary}${CRLF}Content-Type: multipart/mixed; boundary=${changesetBoundary}${CRLF}${CRLF}` +
          `${inner.join(CRLF)}${CRLF}--${changesetBoundary}--`,
      );
    } else {
      chunks.push(`--${boundary}${CRLF}${encodeRequest(entry, options.apiUrl, false)}`);
    }
  }
  const body = `${chunks.join(CRLF)}${CRLF}--${boundary}--${CRLF}`;
  return {
    entries: normalized,
    contentType: `multipart/mixed; boundary=${boundary}`,
    body,
    boundary,
    requestCount: total,
  };
}

export interface BatchPartResponse {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  /** Parsed JSON when the part is JSON, the raw text otherwise, undefined when empty. */
  body: unknown;
  contentId?: string;
}

/** One response part at the top level: a plain response, or the responses of a changeset. */
export type DecodedEntry =
  { kind: 'response'; response: BatchPartResponse } | { kind: 'changeset'; responses: BatchPartResponse[] };

export function boundaryOf(contentType: string | null | undefined): string | undefined {
  if (!contentType) return undefined;
  const match = /boundary\s*=\s*(?:"([^"]+)"|([^;,\s]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

interface RawPart {
  headers: Record<string, string>;
  lines: string[];
}

function parseHeaderLines(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** Splits lines into the parts between `--boundary` delimiters; tolerant of a missing close delimiter. */
function splitParts(lines: string[], boundary: string): RawPart[] {
  const delimiter = `--${boundary}`;
  const close = `--${boundary}--`;
  const parts: RawPart[] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (trimmed === delimiter || trimmed === close) {
      if (current) parts.push(toPart(current));
      current = trimmed === close ? undefined : [];
      if (trimmed === close) break;
      continue;
    }
    current?.push(line);
  }
  if (current && current.some((l) => l.trim() !== '')) parts.push(toPart(current));
  return parts;
}

function toPart(lines: string[]): RawPart {
  const blank = lines.findIndex((l) => l.trim() === '');
  const headerLines = blank === -1 ? lines : lines.slice(0, blank);
  const rest = blank === -1 ? [] : lines.slice(blank + 1);
  return { headers: parseHeaderLines(headerLines), lines: rest };
}

function parseHttpResponse(part: RawPart): BatchPartResponse {
  const lines = [...part.lines];
  while (lines.length > 0 && (lines[0] ?? '').trim() === '') lines.shift();
  const statusLine = lines.shift() ?? '';
  const match = /^HTTP\/\d(?:\.\d)?\s+(\d{3})\s*(.*)$/.exec(statusLine.trim());
  if (!match || match[1] === undefined) {
    throw new DataverseError(`Malformed $batch response part: no status line`, {
      code: 'bad_response',
      retryable: false,
    });
  }
  const blank = lines.findIndex((l) => l.trim() === '');
  const headerLines = blank === -1 ? lines : lines.slice(0, blank);
  const bodyLines = blank === -1 ? [] : lines.slice(blank + 1);
  const headers = parseHeaderLines(headerLines);
  const text = bodyLines.join('\n').trim();
  let body: unknown = undefined;
  if (text !== '') {
    const isJson = /json/i.test(headers['content-type'] ?? '') || /^[{[]/.test(text);
    if (isJson) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    } else {
      body = text;
    }
  }
  const contentId = part.headers['content-id'] ?? headers['content-id'];
  return {
    status: Number(match[1]),
    statusText: (match[2] ?? '').trim(),
    headers,
    body,
    ...(contentId !== undefined ? { contentId } : {}),
  };
}

/** Decodes a multipart/mixed $batch response into top-level entries, in the order the service answered. */
export function decodeBatchResponse(contentType: string | null | undefined, body: string): DecodedEntry[] {
  const boundary = boundaryOf(contentType) ?? sniffBoundary(body);
  if (!boundary) {
    throw new DataverseError('A $batch response without a multipart boundary', {
      code: 'bad_response',
      retryable: false,
    });
  }
  const lines = body.split(/\r?\n/);
  return splitParts(lines, boundary).map((part): DecodedEntry => {
    const partType = part.headers['content-type'] ?? '';
    if (/^multipart\/mixed/i.test(partType)) {
      const inner = boundaryOf(partType);
      if (!inner) {
        throw new DataverseError('A changeset response without a boundary', {
          code: 'bad_response',
          retryable: false,
        });
      }
      return { kind: 'changeset', responses: splitParts(part.lines, inner).map(parseHttpResponse) };
    }
    return { kind: 'response', response: parseHttpResponse(part) };
  });
}

function sniffBoundary(body: string): string | undefined {
  const match = /^--(batchresponse_[^\s]+?)(?:--)?\s*$/m.exec(body);
  return match?.[1];
}

export interface BatchItemResult extends BatchPartResponse {
  /** The request's position in the flattened request list. */
  index: number;
  ok: boolean;
  /** False when the service stopped before this request (the batch stopped at an earlier failure). */
  executed: boolean;
  /** True for requests of a changeset that failed as a whole because another request in it failed. */
  rolledBack?: boolean;
}

/**
 * Lines the decoded response up with the requests: one result per request, in request order.
 * A changeset that failed answers with a single response: its requests are all reported failed,
 * the one named by Content-ID (or the first) carries the error, the others are `rolledBack`.
 */
export function matchBatchResults(
  entries: readonly BatchEntry[],
  decoded: readonly DecodedEntry[],
): BatchItemResult[] {
  const results: BatchItemResult[] = [];
  let index = 0;
  const skipped = (): BatchItemResult => ({
    index,
    ok: false,
    executed: false,
    status: 0,
    statusText: 'Not executed',
    headers: {},
    body: undefined,
  });
  const fromResponse = (response: BatchPartResponse): BatchItemResult => ({
    ...response,
    index,
    ok: response.status >= 200 && response.status < 300,
    executed: true,
  });
  entries.forEach((entry, position) => {
    const answer = decoded[position];
    if (!isChangeset(entry)) {
      if (answer?.kind === 'response') results.push(fromResponse(answer.response));
      else results.push(skipped());
      index += 1;
      return;
    }
    const requests = entry.changeset;
    if (answer?.kind === 'changeset' && answer.responses.length === requests.length) {
      const byId = new Map(answer.responses.filter((r) => r.contentId).map((r) => [r.contentId, r]));
      requests.forEach((request, i) => {
        const response =
          (request.contentId !== undefined ? byId.get(request.contentId) : undefined) ?? answer.responses[i];
        results.push(response ? fromResponse(response) : skipped());
        index += 1;
      });
      return;
    }
    const failure =
      answer?.kind === 'response'
        ? answer.response
        : answer?.kind === 'changeset'
          ? answer.responses.find((r) => r.status >= 400)
          : undefined;
    if (!failure) {
      requests.forEach(() => {
        results.push(skipped());
        index += 1;
      });
      return;
    }
    const culprit =
      failure.contentId === undefined ? -1 : requests.findIndex((r) => r.contentId === failure.contentId);
    const culpritIndex = culprit === -1 ? 0 : culprit;
    requests.forEach((_request, i) => {
      const result = fromResponse(failure);
      result.ok = false;
      if (i !== culpritIndex) result.rolledBack = true;
      results.push(result);
      index += 1;
    });
  });
  return results;
}

/** Encodes `entries` with contentIds made explicit so responses can be matched by Content-ID. */
export function withContentIds(entries: readonly BatchEntry[]): BatchEntry[] {
  let next = 1;
  return entries.map((entry) => {
    if (!isChangeset(entry)) return entry;
    return {
      changeset: entry.changeset.map((request) => {
        const contentId = request.contentId ?? String(next);
        next += 1;
        return { ...request, contentId };
      }),
    };
  });
}
