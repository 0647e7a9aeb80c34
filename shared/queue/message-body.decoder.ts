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
