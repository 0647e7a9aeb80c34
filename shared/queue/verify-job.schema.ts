import { z } from 'zod';

/**
 * A verify (drift audit) of one entity, sent on the pull-jobs queue in the entity's session, so it
 * runs between that entity's pulls and its repair never races one.
 */
export const verifyJobSchema = z.strictObject({
  kind: z.literal('verify'),
  entity: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a Dataverse logical name'),
  reason: z.enum(['schedule', 'manual']),
  repair: z.boolean().default(false),
  correlationId: z.string().min(1).max(128),
  /** The timer slot or the request time (ISO 8601); also part of the message id. */
  slot: z.iso.datetime(),
});
export type VerifyJob = z.output<typeof verifyJobSchema>;

/** A doubled timer repeats the id of its slot, which duplicate detection drops. */
export const verifyJobMessageId = (job: Pick<VerifyJob, 'entity' | 'slot' | 'reason'>): string =>
  `verify:${job.entity}:${job.slot}:${job.reason}`;

/** Whether a pull-jobs message is a verify job (any other kind goes to the pull job handler). */
export function isVerifyJob(body: unknown): boolean {
  let value = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8')) as unknown;
    } catch {
      return false;
    }
  }
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'verify';
}
