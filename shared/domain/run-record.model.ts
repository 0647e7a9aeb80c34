import { z } from 'zod';

/** One pull job's run, kept for the status API and operators. */
export const runRecordSchema = z.object({
  id: z.string(),
  entity: z.string(),
  type: z.literal('run'),
  jobMessageId: z.string(),
  correlationId: z.string(),
  reason: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  status: z.enum(['running', 'succeeded', 'failed', 'continued', 'paused']),
  /** Documents written. */
  records: z.number().int().min(0).default(0),
  /** Rows and tombstones read from Dynamics. */
  read: z.number().int().min(0).optional(),
  /** The run reached the end of the change feed: everything changed before it started is in. */
  caughtUp: z.boolean().optional(),
  requests: z.number().int().min(0).default(0),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** Seconds until Cosmos DB deletes the record (the container has per-item TTL on). */
  ttl: z.number().int().positive().optional(),
});

export type RunRecord = z.output<typeof runRecordSchema>;
