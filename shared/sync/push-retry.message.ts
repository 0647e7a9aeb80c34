import { z } from 'zod';
import { contentHash } from '../domain/content.hash';

/**
 * A push that failed for a transient reason, scheduled on the push-retry queue. One message per
 * failed $batch, so a recovering Dynamics gets batches again, not one request per person.
 */
export const pushRetryMessageSchema = z.object({
  type: z.literal('push-retry'),
  persons: z
    .array(z.object({ id: z.string().min(1).max(255), signature: z.string().max(200) }))
    .min(1)
    .max(1000),
  /** 1 for the first retry; past the configured maximum the edits are parked. */
  attempt: z.number().int().min(1).max(1000),
  firstFailedAt: z.string(),
  lastError: z.object({ code: z.string(), message: z.string().max(2000) }),
  correlationId: z.string().optional(),
});
export type PushRetryMessage = z.output<typeof pushRetryMessageSchema>;

/** Stable per content and attempt, so a doubled send is one message where duplicate detection is on. */
export function pushRetryMessageId(message: PushRetryMessage): string {
  return `push-retry:${contentHash(message.persons).slice(0, 24)}:${message.attempt}`;
}

/** Exponential backoff with a little jitter, so many parked-at-once edits do not return at once. */
export function retryDelayMs(
  attempt: number,
  policy: { baseMs: number; maxMs: number },
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (1 + 0.1 * random()));
}

/** An operator's retry of parked edits: a fresh attempt 1, sent to the push-retry queue. */
export function manualRetryMessage(personIds: readonly string[], now: Date = new Date()): PushRetryMessage {
  return {
    type: 'push-retry',
    persons: personIds.map((id) => ({ id, signature: 'manual' })),
    attempt: 1,
    firstFailedAt: now.toISOString(),
    lastError: { code: 'manual_retry', message: 'retry requested' },
  };
}
