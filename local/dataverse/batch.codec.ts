import { randomUUID } from 'node:crypto';
import { errors } from './simulator.errors';

// multipart/mixed encoding of OData $batch requests and responses, as Dataverse writes them:
// `batchresponse_<id>` outer parts, `changesetresponse_<id>` for changesets, each part an
// application/http message with its own status line.

/** One application/http part, request or response; a changeset's parts name each other by Content-ID. */
interface BatchHttpPart {
  headers: Record<string, string>;
  body: string;
  contentId?: string;
}

export interface BatchHttpRequest extends BatchHttpPart {
  method: string;
  url: string;
}

export type BatchItem =
  { kind: 'request'; request: BatchHttpRequest } | { kind: 'changeset'; requests: BatchHttpRequest[] };

export interface BatchHttpResponse extends BatchHttpPart {
  status: number;
}

export type BatchResultItem =
  { kind: 'response'; response: BatchHttpResponse } | { kind: 'changeset'; responses: BatchHttpResponse[] };

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
export const statusText = (status: number): string => STATUS_TEXT[status] ?? 'Unknown';

export const boundaryOf = (contentType: string | undefined): string | undefined => {
  const m = /boundary\s*=\s*("([^"]+)"|[^;\s]+)/i.exec(contentType ?? '');
  return m ? (m[2] ?? m[1]) : undefined;
};

const parseHeaders = (lines: string[]): Record<string, string> => {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
};

/** Splits a multipart body into the raw parts between `--boundary` delimiter lines. */
const splitParts = (text: string, boundary: string): string[] => {
  const chunks = `\n${text}`.split(`\n--${boundary}`);
  const parts: string[] = [];
  for (const chunk of chunks.slice(1)) {
    if (chunk.startsWith('--')) break;
    const nl = chunk.indexOf('\n');
    parts.push(nl < 0 ? '' : chunk.slice(nl + 1));
  }
  return parts;
};

const splitHead = (text: string): { head: string[]; body: string } => {
  const at = text.indexOf('\n\n');
  if (at < 0) return { head: text.split('\n').filter((l) => l.length > 0), body: '' };
  return { head: text.slice(0, at).split('\n'), body: text.slice(at + 2) };
};

const parseHttpPart = (part: string): BatchHttpRequest => {
  const outer = splitHead(part);
  const partHeaders = parseHeaders(outer.head);
  const inner = splitHead(outer.body.replace(/^\n+/, ''));
  const [requestLine, ...headerLines] = inner.head;
  const m = /^([A-Z]+)\s+(.+?)(\s+HTTP\/\d\.\d)?\s*$/.exec(requestLine ?? '');
  if (!m)
    throw errors.badRequest(`Invalid request line in batch part: '${requestLine ?? ''}'.`, '0x80048d19');
  const headers = parseHeaders(headerLines);
  const contentId = partHeaders['content-id'] ?? headers['content-id'];
  return {
    method: m[1] as string,
    url: (m[2] as string).replace(/ /g, '%20'),
    headers,
    body: inner.body.replace(/\n+$/, ''),
    ...(contentId !== undefined ? { contentId } : {}),
  };
};

export const parseBatch = (body: string, contentType: string | undefined): BatchItem[] => {
  const boundary = boundaryOf(contentType);
  if (!boundary)
    throw errors.badRequest(
      'The batch request must have a multipart/mixed Content-Type with a boundary.',
      '0x80048d19',
    );
  const text = body.replace(/\r\n/g, '\n');
  const items: BatchItem[] = [];
  for (const part of splitParts(text, boundary)) {
    const { head, body: content } = splitHead(part);
    const headers = parseHeaders(head);
    const type = headers['content-type'] ?? '';
    if (/^multipart\/mixed/i.test(type)) {
      const cs = boundaryOf(type);
      if (!cs) throw errors.badRequest('A changeset part has no boundary.', '0x80048d19');
      items.push({ kind: 'changeset', requests: splitParts(content, cs).map(parseHttpPart) });
    } else {
      items.push({ kind: 'request', request: parseHttpPart(part) });
    }
  }
  return items;
};

const httpPart = (r: BatchHttpResponse): string => {
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (r.contentId !== undefined) lines.push(`Content-ID: ${r.contentId}`);
  lines.push('', `HTTP/1.1 ${r.status} ${statusText(r.status)}`);
  for (const [k, v] of Object.entries(r.headers)) lines.push(`${k}: ${v}`);
  lines.push('', r.body);
  return lines.join('\r\n');
};

export const formatBatchResponse = (items: BatchResultItem[]): { contentType: string; body: string } => {
  const id = randomUUID();
  const boundary = `batchresponse_${id}`;
  const out: string[] = [];
  for (const item of items) {
    out.push(`--${boundary}`);
    if (item.kind === 'response') {
      out.push(httpPart(item.response));
      continue;
    }
    const cs = `changesetresponse_${randomUUID()}`;
    out.push(`Content-Type: multipart/mixed; boundary=${cs}`, '');
    for (const r of item.responses) out.push(`--${cs}`, httpPart(r));
    out.push(`--${cs}--`);
  }
  out.push(`--${boundary}--`, '');
  return { contentType: `multipart/mixed; boundary=${boundary}`, body: out.join('\r\n') };
};
