import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { parseJsonBody } from '../shared/app/http-body.parser';
import { pushRetryRequestSchema } from '../shared/sync/manual-actions.use-case';
import { logOf, services } from './app.services';

/** POST /api/push/retry `{"personIds":[...]}`: gives parked edits a fresh series of attempts. */
export async function pushRetryRequest(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const s = await services();
  const body = await parseJsonBody(request, pushRetryRequestSchema);
  if (!body.ok) return body.response;
  await s.manualActions.retryParkedPushes(body.value.personIds);
  logOf(context).info('push retry requested', {
    persons: body.value.personIds.length,
  });
  return { status: 202, jsonBody: { queued: body.value.personIds.length } };
}

app.http('push-retry-request', {
  methods: ['POST'],
  route: 'push/retry',
  authLevel: 'function',
  handler: pushRetryRequest,
});
