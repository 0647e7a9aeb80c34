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
  });
}
