// Two Service Bus functions (one on a session queue, one on a plain queue) that only record what
// they were handed, for tests of the host harness's receive loops. Loaded with startLocalHost's
// `modules` option; the test reads `deliveryProbe` from the same module instance.
import { app, type InvocationContext } from '@azure/functions';

export interface ProbeRecord {
  /** Invocations per message id. */
  handled: Map<string, number>;
  /** Invocations that started while another one of the same session (or message) was running. */
  overlaps: string[];
}

export const deliveryProbe: ProbeRecord & { reset(): void; handlerMs: number } = {
  handled: new Map(),
  overlaps: [],
  handlerMs: 150,
  reset() {
    this.handled.clear();
    this.overlaps.length = 0;
  },
};

const running = new Set<string>();

const meta = (context: InvocationContext, name: string): unknown => {
  const m = context.triggerMetadata ?? {};
  return m[name] ?? m[name.charAt(0).toUpperCase() + name.slice(1)];
};

const record = async (key: string, messageId: string): Promise<void> => {
  deliveryProbe.handled.set(messageId, (deliveryProbe.handled.get(messageId) ?? 0) + 1);
  if (running.has(key)) deliveryProbe.overlaps.push(key);
  running.add(key);
  try {
    await new Promise((resolve) => setTimeout(resolve, deliveryProbe.handlerMs));
  } finally {
    running.delete(key);
  }
};

app.serviceBusQueue('session-probe', {
  connection: 'PROBE_SERVICEBUS',
  queueName: 'session-probe',
  isSessionsEnabled: true,
  handler: async (_message: unknown, context: InvocationContext) => {
    const messageId = String(meta(context, 'messageId'));
    await record(`session ${String(meta(context, 'sessionId'))}`, messageId);
  },
});

app.serviceBusQueue('plain-probe', {
  connection: 'PROBE_SERVICEBUS',
  queueName: 'plain-probe',
  handler: async (_message: unknown, context: InvocationContext) => {
    const messageId = String(meta(context, 'messageId'));
    await record(`message ${messageId}`, messageId);
  },
});
