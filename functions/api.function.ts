import { app } from '@azure/functions';
import { apiRoutes } from '../shared/app/api.routes';
import { route } from '../shared/app/http.route';
import { logOf, services } from './app.services';

// Every HTTP route of the app. They are anonymous to the Functions key check: in Azure, App Service
// authentication signs callers in with Entra ID and the routes authorize them by app role.
for (const api of apiRoutes(services)) {
  app.http(api.name, {
    methods: [api.method],
    route: api.route,
    authLevel: 'anonymous',
    handler: route(api.spec, async () => {
      const s = await services();
      return { authorization: s.env.API_AUTHORIZATION, log: logOf, audit: s.audit };
    }),
  });
}
