import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';

export type Parsed<T> = { ok: true; value: T } | { ok: false; response: HttpResponseInit };

const MAX_BODY_BYTES = 64 * 1024;

export function problem(status: number, code: string, message: string, details?: unknown): HttpResponseInit {
  return { status, jsonBody: { error: { code, message, ...(details !== undefined ? { details } : {}) } } };
}

/** Reads a JSON body (empty counts as `{}`) and validates it; never throws on bad input. */
export async function parseJsonBody<S extends z.ZodType>(
  request: HttpRequest,
  schema: S,
): Promise<Parsed<z.output<S>>> {
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    return {
      ok: false,
      response: problem(413, 'body_too_large', `request body is larger than ${MAX_BODY_BYTES} bytes`),
    };
  }
  let json: unknown = {};
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      return { ok: false, response: problem(400, 'invalid_json', 'request body is not valid JSON') };
    }
  }
  return validate(json, schema);
}

export function validate<S extends z.ZodType>(input: unknown, schema: S): Parsed<z.output<S>> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  const details = parsed.error.issues.map((issue) => ({
    path: issue.path.join('.'),
    message: issue.message,
  }));
  return { ok: false, response: problem(400, 'invalid_request', 'request failed validation', details) };
}
