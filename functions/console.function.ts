import { app, type HttpHandler } from '@azure/functions';
import { z } from 'zod';
import { ConsoleAssets, consoleDistDir } from '../console/console.assets';
import { route } from '../shared/app/http.route';
import { syncEnvShape } from '../shared/config/env.schema';
import type { AuditTrail } from '../shared/sync/ports';
import { logOf } from './app.services';

// The operator console: a static page that calls the /api routes. It is read from the package once
// per process; it needs no database or Dynamics, so it loads even when those are misconfigured and
// its Validate tab can say why.
let assets: Promise<ConsoleAssets> | undefined;
const loaded = () => (assets ??= ConsoleAssets.load(consoleDistDir()));

// Serving files changes nothing, so there is nothing to audit.
const noAudit: AuditTrail = {
  record: async () => undefined,
  page: async () => ({ entries: [] }),
};

const handler: HttpHandler = (request, context) =>
  route(
    {
      query: z.strictObject({}),
      // Behind App Service authentication in Azure, like the API: a caller without Sync.Read gets
      // the API's 403 that names the role to ask for, instead of a console that cannot load data.
      permission: 'read',
      handle: async ({ params }) =>
        (await loaded()).respond({
          path: params.path ?? '',
          url: request.url,
          acceptEncoding: request.headers.get('accept-encoding'),
          ifNoneMatch: request.headers.get('if-none-match'),
        }),
    },
    async () => ({
      // An unreadable setting fails closed: roles are required.
      authorization:
        syncEnvShape.API_AUTHORIZATION.safeParse(process.env.API_AUTHORIZATION).data ?? 'app-roles',
      log: logOf,
      audit: noAudit,
    }),
  )(request, context);

// Two routes: whether the host's catch-all also matches the bare `console` is not something to rely on.
app.http('console', { methods: ['GET'], route: 'console', authLevel: 'anonymous', handler });
app.http('console-assets', { methods: ['GET'], route: 'console/{*path}', authLevel: 'anonymous', handler });
