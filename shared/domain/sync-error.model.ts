import { z } from 'zod';

export const syncOperationSchema = z.enum(['pull', 'push', 'queue']);
export type SyncOperation = z.output<typeof syncOperationSchema>;

/** One visible error: what failed, where, and enough context to act on it without the raw data. */
export const syncErrorSchema = z.object({
  id: z.string(),
  entity: z.string(),
  type: z.literal('sync-error'),
  recordId: z.string().nullable(),
  operation: syncOperationSchema,
  direction: z.enum(['dynamics-to-marketing', 'marketing-to-dynamics', 'queue']),
  code: z.string(),
  message: z.string().max(2000),
  excerpt: z.string().max(1000).optional(),
  at: z.string(),
  correlationId: z.string().optional(),
  /** The person's email when the record is a person's, so an operator can search by it (lower case). */
  email: z.string().optional(),
  /** When a later pull synced the row cleanly; recording the error again reopens it. */
  resolvedAt: z.string().optional(),
});

export type SyncErrorRecord = z.output<typeof syncErrorSchema>;

/** What a caller says about an error; the id, type and direction follow from it. */
export type SyncErrorInput = Omit<SyncErrorRecord, 'id' | 'type' | 'direction'> & { id?: string };

const DIRECTION: Record<SyncOperation, SyncErrorRecord['direction']> = {
  pull: 'dynamics-to-marketing',
  push: 'marketing-to-dynamics',
  queue: 'queue',
};

/** A stable id, so a replayed page or message updates its error instead of adding a duplicate. */
export function syncErrorId(
  error: Pick<SyncErrorRecord, 'operation' | 'entity' | 'recordId' | 'code'>,
): string {
  return `${error.operation}:${error.entity}:${error.recordId ?? '-'}:${error.code}`;
}

/** The stored record of an error: direction from the operation, texts cut to what the record keeps. */
export function toSyncErrorRecord(input: SyncErrorInput): SyncErrorRecord {
  return syncErrorSchema.parse({
    ...input,
    id: input.id ?? syncErrorId(input),
    type: 'sync-error',
    direction: DIRECTION[input.operation],
    message: input.message.slice(0, 2000),
    ...(input.excerpt !== undefined ? { excerpt: input.excerpt.slice(0, 1000) } : {}),
    ...(input.email !== undefined ? { email: input.email.trim().toLowerCase().slice(0, 320) } : {}),
  });
}

/** Which errors a listing wants. */
export interface ErrorSearch {
  /** One entity's errors (its partition), or every entity's. */
  entity?: string;
  status: 'open' | 'resolved' | 'all';
  /** Text looked for in the record id, the email, the code and the message (case-insensitive). */
  q?: string;
  code?: string;
  limit: number;
  /** Where the previous page ended (from its answer); the first page has none. */
  continuation?: string;
}

export interface ErrorPage {
  errors: SyncErrorRecord[];
  /** Undefined on the last page. */
  continuation?: string;
}

const CSV_COLUMNS = [
  'at',
  'entity',
  'operation',
  'direction',
  'code',
  'recordId',
  'email',
  'message',
  'excerpt',
  'resolvedAt',
  'correlationId',
] as const;

/**
 * A cell as RFC 4180 wants it (quoted when it holds a comma, a quote or a line break, quotes
 * doubled), and never a formula: a spreadsheet would run a cell starting with =, +, - or @.
 */
function csvCell(value: string | null | undefined): string {
  const text = value ?? '';
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Sync errors as CSV with a header row, CRLF line ends (RFC 4180). */
export function errorsAsCsv(errors: readonly SyncErrorRecord[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const error of errors) lines.push(CSV_COLUMNS.map((column) => csvCell(error[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
