import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { readSyncStatus } from '../shared/sync/status.query';
import { logOf, services } from './app.services';

export async function status(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const s = await services();
  const log = logOf(context);
  try {
    return { status: 200, jsonBody: await readSyncStatus(s.catalog.enabled(s.env.SYNC_ENTITIES), s.runs) };
  } catch (error) {
    log.error('status query failed', { error });
    return {
      status: 503,
      jsonBody: { error: { code: 'status_unavailable', message: 'sync status is unavailable' } },
    };
  }
}

app.http('status', { methods: ['GET'], route: 'status', authLevel: 'function', handler: status });
