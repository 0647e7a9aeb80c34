import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { validate } from '../shared/app/http-body.parser';
import { errorQuerySchema } from '../shared/sync/manual-actions.use-case';
import { services } from './app.services';

/** GET /api/errors?entity=contact&limit=100: newest sync errors first. */
export async function errors(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const s = await services();
  const query = validate(Object.fromEntries(request.query.entries()), errorQuerySchema);
  if (!query.ok) return query.response;
  return { status: 200, jsonBody: { errors: await s.manualActions.listErrors(query.value) } };
}

app.http('errors', { methods: ['GET'], route: 'errors', authLevel: 'function', handler: errors });
