import { z } from 'zod';

/** One visible error: what failed, where, and enough context to act on it without the raw data. */
export const syncErrorSchema = z.object({
  id: z.string(),
  entity: z.string(),
  type: z.literal('sync-error'),
  recordId: z.string().nullable(),
  operation: z.enum(['pull', 'push', 'queue']),
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
