import type { z } from 'zod';
import { describeIssues } from '../errors/app.errors';
import { errorExcerpt, failingPaths, textExcerpt, type FieldPath } from '../errors/error.excerpt';
import type { SyncErrorInput } from '../domain/sync-error.model';

/** A message body as the handler can validate it, or why it cannot be read at all. */
export type DecodedBody = { ok: true; value: unknown } | { ok: false; reason: string };

/**
 * Turns a queue message body into the JSON value it carries. The transports hand bodies over in
 * different shapes: the in-process queue and the classic Functions binding give parsed JSON, while
 * the Service Bus SDK binding gives text unless the sender set `application/json`, and raw bytes
 * reach us as a Buffer. Text and bytes are parsed here so every composition validates the same
 * value; a body that is not JSON gets a reason that says so (without echoing the body, which may
 * hold anything).
 */
export function decodeJsonBody(body: unknown): DecodedBody {
  let text: string;
  let what: string;
  if (typeof body === 'string') {
    text = body;
    what = `text of ${body.length} characters`;
  } else if (body instanceof Uint8Array) {
    text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    what = `${body.byteLength} bytes`;
  } else {
    return { ok: true, value: body };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: `(body): not JSON (${what})` };
  }
}

/** A short, printable excerpt of a body for an error record: text as text, bytes as UTF-8. */
export function bodyExcerpt(body: unknown, max = 300): string {
  let text: string | undefined;
  if (typeof body === 'string') text = body;
  else if (body instanceof Uint8Array) {
    text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  } else {
    try {
      text = JSON.stringify(body);
    } catch {
      text = undefined;
    }
  }
  return (text ?? String(body)).slice(0, max);
}

/** A message validated against its schema, or why it was refused (never echoing the body). */
export function parseMessageBody<T>(
  body: unknown,
  schema: z.ZodType<T>,
): { ok: true; value: T } | { ok: false; reason: string; value: unknown; fields: FieldPath[] } {
  const decoded = decodeJsonBody(body);
  if (!decoded.ok) return { ok: false, reason: decoded.reason, value: undefined, fields: [] };
  const parsed = schema.safeParse(decoded.value);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    reason: describeIssues(parsed.error.issues, { root: '(body)' }),
    value: decoded.value,
    fields: failingPaths(parsed.error.issues),
  };
}

/**
 * The error record of a queue message that can never be handled. A malformed body can hold
 * anything: of JSON only the failing fields are kept (`fields`, from the schema check), of other
 * text a short excerpt; both stripped of credentials by key name and by pattern.
 */
export function malformedMessageError(
  kind: string,
  messageId: string,
  reason: string,
  body: unknown,
  options: { entity?: string; at: string; fields?: readonly FieldPath[] },
): SyncErrorInput {
  const decoded = decodeJsonBody(body);
  return {
    // Another partition than an enabled entity's or `queue` would be one the error listing never reads.
    entity: options.entity ?? 'queue',
    recordId: messageId || null,
    operation: 'queue',
    code: 'invalid_message',
    message: `${kind} ${messageId} rejected: ${reason}`.slice(0, 2000),
    excerpt: decoded.ok
      ? errorExcerpt(decoded.value, [], options.fields ?? [])
      : textExcerpt(bodyExcerpt(body)),
    at: options.at,
  };
}
