import type { MessageSettlement } from '../queue/job-queue.port';
import { redact } from '../errors/redact.text';
import type { Logger } from '../telemetry/logger';
import type { PullJobOutcome } from './pull-job.handler';

/**
 * deadLetterReason of a pull job that can never run. A fixed code, so an operator (or an alert)
 * can filter the dead-letter queue on it; the details go in the description.
 */
export const INVALID_PULL_JOB = 'InvalidPullJob';

/**
 * Longest deadLetterErrorDescription we send. Service Bus accepts up to 4096 characters; the
 * reason is for a person reading the dead-letter queue, and the full text is in the sync error.
 */
export const MAX_DEAD_LETTER_DESCRIPTION = 1024;

/** What to do with the message once the job has an outcome. */
export type PullJobSettlement =
  { action: 'complete' } | { action: 'deadLetter'; reason: string; description: string };

/** The dead-letter description: one line, printable, no credentials, bounded. */
export function deadLetterDescription(reason: string, max = MAX_DEAD_LETTER_DESCRIPTION): string {
  const line = (redact(reason) as string)
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const text = line === '' ? 'invalid pull job' : line;
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * The settlement for an outcome. A rejected job (malformed message) is dead-lettered at once with
 * its reason: redelivering it cannot help. Every other outcome completes the message: success,
 * continuation (already queued in the session) and pause are done, and a non-retryable failure is
 * already a sync error and a failed run, so it must not hold up the entity's session.
 */
export function settlementFor(outcome: PullJobOutcome): PullJobSettlement {
  if (outcome.status === 'rejected') {
    return {
      action: 'deadLetter',
      reason: INVALID_PULL_JOB,
      description: deadLetterDescription(outcome.reason),
    };
  }
  return { action: 'complete' };
}

/**
 * Runs a pull job and settles its message by the outcome. A thrown error (a retryable failure, or a
 * store that failed while recording) abandons the message and is rethrown: Service Bus redelivers
 * it at once, and past maxDeliveryCount dead-letters it, as with automatic settlement. A failed
 * abandon is only logged (the lock then expires and the message comes back anyway), so the original
 * error is what the caller sees.
 */
export async function runAndSettle(
  run: () => Promise<PullJobOutcome>,
  actions: MessageSettlement,
  log: Logger,
): Promise<PullJobOutcome> {
  let outcome: PullJobOutcome;
  try {
    outcome = await run();
  } catch (error) {
    await actions.abandon().catch((abandonError: unknown) =>
      log.warn('abandoning the pull job message failed; it returns when its lock expires', {
        error: abandonError,
      }),
    );
    throw error;
  }
  const settlement = settlementFor(outcome);
  if (settlement.action === 'deadLetter') {
    await actions.deadLetter(settlement.reason, settlement.description);
    log.warn('pull job dead-lettered', { reason: settlement.reason, description: settlement.description });
  } else {
    await actions.complete();
  }
  return outcome;
}
