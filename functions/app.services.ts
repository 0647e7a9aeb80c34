import { app, type InvocationContext } from '@azure/functions';
import { lazyServices, type AppServices } from '../shared/app/app.services';
import { syncEnvShape } from '../shared/config/env.schema';
import { createTelemetry, type Telemetry } from '../shared/telemetry/app-insights.telemetry';
import { createLogger, type Logger } from '../shared/telemetry/logger';

/** Composition root for this worker process: every function shares one set of clients. */
export const services: () => Promise<AppServices> = lazyServices(process.env);

/** One telemetry pipeline per process; a no-op without APPLICATIONINSIGHTS_CONNECTION_STRING. */
export const telemetry: Telemetry = createTelemetry(process.env);

// A bad LOG_LEVEL is reported by services() on the first invocation, with every other bad setting.
const level = syncEnvShape.LOG_LEVEL.safeParse(process.env.LOG_LEVEL).data ?? 'info';
const loggers = new WeakMap<InvocationContext, Logger>();

/** The invocation's logger, made by the pre-invocation hook (lines go to the host with its ids). */
export function logOf(context: InvocationContext): Logger {
  let log = loggers.get(context);
  if (log === undefined) {
    log = createLogger(context, { level });
    loggers.set(context, log);
  }
  return log;
}

app.hook.preInvocation((hook) => {
  logOf(hook.invocationContext);
});

// The plan may freeze an idle instance right after an invocation: what telemetry buffered is sent
// now, whether the invocation succeeded or failed.
app.hook.postInvocation(async (hook) => {
  await telemetry
    .flush()
    .catch((error: unknown) => logOf(hook.invocationContext).warn('telemetry flush failed', { error }));
});

export async function closeServices(): Promise<void> {
  await (await services().catch(() => undefined))?.close();
  await telemetry.shutdown();
}
