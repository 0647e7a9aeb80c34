import { z } from 'zod';

/** The body of a message on the pull-jobs queue; the session id is the entity. */
export const pullJobSchema = z
  .object({
    kind: z.literal('pull'),
    entity: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a Dataverse logical name'),
    // `notify`: a Dataverse webhook said the entity changed (docs/realtime.md); it runs as a scheduled pull.
    reason: z.enum(['schedule', 'continuation', 'manual', 'resync', 'reread', 'notify']),
    /** Carried through every log line and every message the job causes. */
    correlationId: z.string().min(1).max(128),
    /** Start of the timer slot that produced the job (ISO 8601); also part of the message id. */
    slot: z.iso.datetime(),
    requestedAt: z.iso.datetime(),
    /** Number of continuations so far in this run, so a runaway chain is visible. */
    sequence: z.number().int().min(0).default(0),
    /** With `reread`: the rows to read again by id (an operator's retry of rows that failed). */
    rowIds: z
      .array(
        z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID'),
      )
      .min(1)
      .max(1000)
      .optional(),
  })
  .strict()
  .refine((job) => (job.reason === 'reread') === (job.rowIds !== undefined), {
    message: 'rowIds go with reason "reread", and only with it',
    path: ['rowIds'],
  });

export type PullJob = z.output<typeof pullJobSchema>;
export type PullJobInput = z.input<typeof pullJobSchema>;

export function pullJobMessageId(job: Pick<PullJob, 'entity' | 'slot' | 'reason' | 'sequence'>): string {
  // A doubled timer produces the same id for the same slot, which Service Bus duplicate detection drops.
  return job.reason === 'schedule'
    ? `pull:${job.entity}:${job.slot}`
    : `pull:${job.entity}:${job.slot}:${job.reason}:${job.sequence}`;
}
