import { z } from 'zod';
import { findingSchema, SAMPLE_SIZE, VERIFY_CODES, type VerifyCode } from './verify.rules';

const findingCounts = z.object(
  Object.fromEntries(VERIFY_CODES.map((code) => [code, z.number().int().nonnegative()])) as Record<
    VerifyCode,
    z.ZodNumber
  >,
);

/**
 * One entity's last verify (drift audit), kept in the sync-state container beside its run history
 * (`verify:<entity>`, partition the entity) and shown by `GET /api/status`.
 */
export const verifyResultSchema = z.object({
  id: z.string(),
  entity: z.string(),
  type: z.literal('verify-result'),
  /** When the verify started. */
  at: z.string(),
  finishedAt: z.string(),
  /** Findings that are drift (every code counted), 0 when Cosmos and Dynamics agree. */
  drift: z.number().int().nonnegative(),
  findings: findingCounts,
  counts: z.object({
    rows: z.number().int().nonnegative(),
    stored: z.number().int().nonnegative(),
    inSync: z.number().int().nonnegative(),
    inFlight: z.number().int().nonnegative(),
    filteredOut: z.number().int().nonnegative(),
    /** Rows whose only difference was a lookup's display name, read again (results saved before it: 0). */
    renamed: z.number().int().nonnegative().default(0),
  }),
  /** The first findings, at most SAMPLE_SIZE: enough to act on, bounded whatever the drift. */
  sample: z.array(findingSchema).max(SAMPLE_SIZE),
  /** Dataverse requests the verify sent. */
  requests: z.number().int().nonnegative(),
  /** The verify could not finish: drift is then unknown (counted as found). */
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type VerifyResult = z.output<typeof verifyResultSchema>;

export const verifyResultId = (entity: string): string => `verify:${entity}`;
