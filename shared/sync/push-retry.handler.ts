import type { Logger } from '../telemetry/logger';
import type { ErrorSink } from './ports';
import { malformedMessageError, parseMessageBody } from '../queue/message-body.decoder';
import { pushRetryMessageSchema } from './push-retry.message';
import type { PushRunOptions, PushSummary } from './push.use-case';

export interface PushRetryDeps {
  /** Latest stored version of a document (DocumentReader satisfies it). */
  read(id: string): Promise<Record<string, unknown> | undefined>;
  push(docs: readonly unknown[], options: PushRunOptions): Promise<PushSummary>;
  errors: ErrorSink;
  log: Logger;
  now?: () => Date;
}

export type PushRetryOutcome =
  { status: 'rejected'; reason: string } | { status: 'done'; summary: PushSummary; missing: number };

/**
 * Runs one push-retry message: re-reads the people it names (their latest version, which may hold
 * newer edits) and pushes them again as attempt N. A malformed message is recorded and completed,
 * not thrown, so it cannot cycle until dead-lettered without anyone seeing why; a failure to reach
 * Cosmos or the queue is thrown, so Service Bus redelivers the message.
 */
export async function runPushRetry(
  body: unknown,
  meta: { messageId: string },
  deps: PushRetryDeps,
): Promise<PushRetryOutcome> {
  const now = deps.now ?? (() => new Date());
  const parsed = parseMessageBody(body, pushRetryMessageSchema);
  if (!parsed.ok) {
    deps.log.error('malformed push-retry message', { messageId: meta.messageId, reason: parsed.reason });
    await deps.errors.record(
      malformedMessageError('push-retry message', meta.messageId, parsed.reason, body, {
        at: now().toISOString(),
        fields: parsed.fields,
      }),
    );
    return { status: 'rejected', reason: parsed.reason };
  }
  const message = parsed.value;
  const docs: Record<string, unknown>[] = [];
  let missing = 0;
  for (const person of message.persons) {
    const doc = await deps.read(person.id);
    // Deleted on the marketing side: nothing to push, and Dynamics keeps its row.
    if (doc === undefined) missing += 1;
    else docs.push(doc);
  }
  const summary = await deps.push(docs, {
    attempt: message.attempt,
    force: true,
    firstFailedAt: message.firstFailedAt,
    ...(message.correlationId !== undefined ? { correlationId: message.correlationId } : {}),
  });
  deps.log.info('push retry finished', {
    attempt: message.attempt,
    persons: message.persons.length,
    missing,
    pushed: summary.pushed,
    retrying: summary.retrying,
    parked: summary.parked,
  });
  return { status: 'done', summary, missing };
}
