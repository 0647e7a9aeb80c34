import { lazyServices, type AppServices } from '../shared/app/app.services';
import { createTelemetry, type Telemetry } from '../shared/telemetry/app-insights.telemetry';

/** Composition root for this worker process: every function shares one set of clients. */
export const services: () => Promise<AppServices> = lazyServices(process.env);

/** One telemetry pipeline per process; a no-op without APPLICATIONINSIGHTS_CONNECTION_STRING. */
export const telemetry: Telemetry = createTelemetry(process.env);

export async function closeServices(): Promise<void> {
  await (await services().catch(() => undefined))?.close();
  await telemetry.shutdown();
}
