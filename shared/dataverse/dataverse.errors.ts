import { z } from 'zod';
import { AppError } from '../errors/app.errors';

export type DataverseErrorCode =
  | 'throttled'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'precondition_failed'
  | 'already_exists'
  | 'duplicate'
  | 'unknown_column'
  | 'change_tracking_expired'
  | 'change_tracking_disabled'
  | 'validation'
  | 'client_error'
  | 'server_error'
  | 'network'
  | 'timeout'
  | 'bad_response'
  | 'batch_too_large'
  | 'foreign_origin'
  | 'auth_failed'
  | 'configuration';

/** Dataverse error codes (the `error.code` of a Web API error body) the sync reacts to. */
export const DataverseCodes = {
  notFound: '0x80040217',
  unknownColumn: '0x80060888',
  versionMismatch: '0x80060882',
  privilegeDenied: '0x80040220',
  duplicateDetected: '0x80040333',
  duplicateKey: '0x80040237',
  changeTrackingExpired: '0x80044352',
  changeTrackingDisabled: '0x80072491',
  tooManyRequests: '0x80072322',
  executionTimeExceeded: '0x80072321',
  tooManyConcurrent: '0x80072326',
} as const;

export interface DataverseErrorInit {
  code: DataverseErrorCode;
  retryable: boolean;
  status?: number;
  dataverseCode?: string;
  column?: string;
  entity?: string;
  /** Milliseconds to wait before the next attempt, from a Retry-After header. */
  retryAfterMs?: number;
  attempts?: number;
  cause?: unknown;
}

/**
 * The one error type of the Dataverse integration. The message is built from the method, the path
 * (never the query string, which may hold personal data) and the service's message; it never holds
 * a token or a secret.
 */
export class DataverseError extends AppError<DataverseErrorCode> {
  readonly status?: number;
  readonly dataverseCode?: string;
  readonly column?: string;
  readonly entity?: string;
  readonly retryAfterMs?: number;
  attempts?: number;

  constructor(message: string, init: DataverseErrorInit) {
    super('DataverseError', init.code, message, init.retryable, init.cause);
    if (init.status !== undefined) this.status = init.status;
    if (init.dataverseCode !== undefined) this.dataverseCode = init.dataverseCode;
    if (init.column !== undefined) this.column = init.column;
    if (init.entity !== undefined) this.entity = init.entity;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.attempts !== undefined) this.attempts = init.attempts;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      code: this.code,
      retryable: this.retryable,
      status: this.status,
      dataverseCode: this.dataverseCode,
      column: this.column,
      entity: this.entity,
    };
  }
}

export const isDataverseError = (value: unknown): value is DataverseError => value instanceof DataverseError;

const errorBodySchema = z.object({
  error: z.object({
    code: z.string().optional(),
    message: z.string().optional(),
  }),
});

export interface ParsedErrorBody {
  dataverseCode?: string;
  message?: string;
}

export function parseErrorBody(body: unknown): ParsedErrorBody {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return body.trim() === '' ? {} : { message: body.slice(0, 500) };
    }
  }
  const parsed = errorBodySchema.safeParse(value);
  if (!parsed.success) return {};
  const out: ParsedErrorBody = {};
  if (parsed.data.error.code !== undefined && parsed.data.error.code !== '') {
    out.dataverseCode = parsed.data.error.code;
  }
  if (parsed.data.error.message !== undefined) out.message = parsed.data.error.message;
  return out;
}

const unknownColumnPattern =
  /Could not find a property named '([^']+)' on type '(?:Microsoft\.Dynamics\.CRM\.)?([^']+)'/;

/** Pulls the column and table out of "Could not find a property named 'x' on type 'Microsoft.Dynamics.CRM.contact'." */
export function parseUnknownColumn(message: string): { column: string; entity: string } | undefined {
  const match = unknownColumnPattern.exec(message);
  if (!match || match[1] === undefined || match[2] === undefined) return undefined;
  return { column: match[1], entity: match[2] };
}

/** Retry-After is delta-seconds (possibly fractional in practice) or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

export interface HttpErrorContext {
  method: string;
  /** Path only; the query string is dropped by the caller. */
  path: string;
  nowMs?: number;
}

const retryableServerStatuses = new Set([500, 502, 503, 504]);

/** Maps a non-2xx Web API response to a DataverseError with a stable code. */
export function mapHttpError(
  status: number,
  headers: { get(name: string): string | null },
  body: unknown,
  context: HttpErrorContext,
): DataverseError {
  const { dataverseCode, message: serviceMessage } = parseErrorBody(body);
  const where = `${context.method} ${context.path}`;
  const detail = serviceMessage ? `: ${serviceMessage.slice(0, 1000)}` : '';
  const message = `Dataverse ${status} on ${where}${dataverseCode ? ` (${dataverseCode})` : ''}${detail}`;
  const base = { status, ...(dataverseCode ? { dataverseCode } : {}) };
  const text = serviceMessage ?? '';

  if (status === 429) {
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'), context.nowMs ?? Date.now());
    return new DataverseError(message, {
      ...base,
      code: 'throttled',
      retryable: true,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  if (
    dataverseCode === DataverseCodes.changeTrackingExpired ||
    /Version stamp associated with the client has expired/i.test(text)
  ) {
    return new DataverseError(message, { ...base, code: 'change_tracking_expired', retryable: false });
  }
  if (
    dataverseCode === DataverseCodes.changeTrackingDisabled ||
    /isn't enabled for change tracking/i.test(text)
  ) {
    return new DataverseError(message, { ...base, code: 'change_tracking_disabled', retryable: false });
  }
  if (/isn't supported when Change Tracking is enabled/i.test(text)) {
    return new DataverseError(message, { ...base, code: 'validation', retryable: false });
  }
  const unknownColumn = parseUnknownColumn(text);
  if (dataverseCode === DataverseCodes.unknownColumn || unknownColumn) {
    return new DataverseError(message, {
      ...base,
      code: 'unknown_column',
      retryable: false,
      ...(unknownColumn ?? {}),
    });
  }
  if (status === 401) return new DataverseError(message, { ...base, code: 'unauthorized', retryable: false });
  if (status === 403 || dataverseCode === DataverseCodes.privilegeDenied) {
    return new DataverseError(message, { ...base, code: 'forbidden', retryable: false });
  }
  if (status === 404 || dataverseCode === DataverseCodes.notFound) {
    return new DataverseError(message, { ...base, code: 'not_found', retryable: false });
  }
  if (status === 412) {
    // If-None-Match: * on an existing row and If-Match on a changed row both answer 412.
    const exists =
      dataverseCode === DataverseCodes.duplicateKey || /matching key values already exists/i.test(text);
    return new DataverseError(message, {
      ...base,
      code: exists ? 'already_exists' : 'precondition_failed',
      retryable: false,
    });
  }
  if (dataverseCode === DataverseCodes.duplicateDetected) {
    return new DataverseError(message, { ...base, code: 'duplicate', retryable: false });
  }
  if (retryableServerStatuses.has(status)) {
    return new DataverseError(message, { ...base, code: 'server_error', retryable: true });
  }
  if (status >= 500) return new DataverseError(message, { ...base, code: 'server_error', retryable: false });
  if (status === 400 || status === 422) {
    return new DataverseError(message, { ...base, code: 'validation', retryable: false });
  }
  return new DataverseError(message, { ...base, code: 'client_error', retryable: false });
}
