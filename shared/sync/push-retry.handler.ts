import type { Logger } from '../telemetry/logger';
import type { ErrorSink } from './pull.use-case';
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
  const parsed = pushRetryMessageSchema.safeParse(typeof body === 'string' ? safeJson(body) : body);
  if (!parsed.success) {
    const reason = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
      .join('; ');
    deps.log.error('malformed push-retry message', { messageId: meta.messageId, reason });
    await deps.errors.record({
      entity: 'queue',
      recordId: meta.messageId || null,
      operation: 'queue',
      direction: 'queue',
      code: 'invalid_message',
      message: `push-retry message ${meta.messageId} rejected: ${reason}`.slice(0, 2000),
      excerpt: excerpt(body),
      at: now().toISOString(),
    });
    return { status: 'rejected', reason };
  }
  const message = parsed.data;
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

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function excerpt(body: unknown): string {
  let text: string | undefined;
  try {
    text = typeof body === 'string' ? body : JSON.stringify(body);
  } catch {
    text = undefined;
  }
  return (text ?? String(body)).slice(0, 300);
}
