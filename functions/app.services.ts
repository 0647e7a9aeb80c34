import { lazyServices, type AppServices } from '../shared/app/app.services';

/** Composition root for this worker process: every function shares one set of clients. */
export const services: () => Promise<AppServices> = lazyServices(process.env);

export async function closeServices(): Promise<void> {
  await (await services().catch(() => undefined))?.close();
}
