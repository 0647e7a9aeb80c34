import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { parseJsonBody, problem } from '../shared/app/http-body.parser';
import { ManualActionError, pullRequestSchema } from '../shared/sync/manual-actions.use-case';
import { logOf, services } from './app.services';

/** POST /api/sync/{entity} with `{"mode":"now"}` (default) or `{"mode":"resync"}`. */
export async function syncRequest(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const s = await services();
  const log = logOf(context);
  const body = await parseJsonBody(request, pullRequestSchema);
  if (!body.ok) return body.response;
  const entity = request.params.entity ?? '';
  try {
    const job = await s.manualActions.requestPull(entity, body.value.mode);
    log.info('pull requested', { entity, mode: body.value.mode, correlationId: job.correlationId });
    return { status: 202, jsonBody: { job } };
  } catch (error) {
    if (error instanceof ManualActionError) return problem(404, error.code, error.message);
    throw error;
  }
}

app.http('sync-request', {
  methods: ['POST'],
  route: 'sync/{entity}',
  authLevel: 'function',
  handler: syncRequest,
});
