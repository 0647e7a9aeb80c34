import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { executionContextSchema, type ExecutionContext } from '../domain/notification.model';
import { NOTIFY_HEADER } from '../domain/webhook-registration.rules';
import type { ApiRoute } from './api.routes';
import type { AppServices } from './app.services';
import { HttpProblem, type Caller } from './http.route';
import type { Logger } from '../telemetry/logger';

/** Dataverse leaves the large parts out of a context over 256 KB; this leaves room for the rest. */
export const NOTIFY_MAX_BODY_BYTES = 512 * 1024;

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Whether the presented secret is one of the accepted ones, in time that does not depend on where
 * they differ: both sides are hashed to one length first, and every accepted secret is compared.
 */
export function matchesSecret(presented: string, accepted: readonly string[]): boolean {
  const given = digest(presented);
  let match = false;
  for (const secret of accepted) match = timingSafeEqual(given, digest(secret)) || match;
  return match;
}

/**
 * The secrets the endpoint accepts: the current one and, while rotating, the previous one. An unset
 * or empty setting accepts nothing, and so does a Key Vault reference App Service could not resolve
 * (it then passes the reference text itself, which must never work as a secret).
 */
export function acceptedSecrets(...settings: (string | undefined)[]): string[] {
  return settings.filter(
    (value): value is string =>
      value !== undefined && value !== '' && !value.startsWith('@Microsoft.KeyVault('),
  );
}

const WEBHOOK_CALLER: Caller = { name: 'dataverse-webhook', roles: [] };

/**
 * `POST /api/notify`: Dataverse's webhook says a row of a synced table changed. The caller cannot
 * sign in with Entra ID, so App Service authentication excludes this path and the route checks the
 * shared secret (header, or `code` for a WebhookKey endpoint) before it reads the body. A valid
 * notification queues a pull of the table; nothing in its body is written anywhere.
 */
export function notifyRoute(services: () => Promise<AppServices>): ApiRoute {
  return {
    name: 'notify',
    method: 'POST',
    route: 'notify',
    spec: {
      query: z.strictObject({}),
      body: executionContextSchema,
      permission: 'operate',
      maxBodyBytes: NOTIFY_MAX_BODY_BYTES,
      authenticate: async (request: HttpRequest) => {
        const { notify } = await services();
        const presented = request.headers.get(NOTIFY_HEADER) ?? request.query.get('code');
        if (notify.secrets.length === 0) {
          throw new HttpProblem(
            401,
            'unauthenticated',
            'no notification secret is configured here (NOTIFY_SECRET); docs/realtime.md says how to set one',
          );
        }
        if (presented === null || !matchesSecret(presented, notify.secrets)) {
          throw new HttpProblem(
            401,
            'unauthenticated',
            `send the notification secret in the ${NOTIFY_HEADER} header (or as the code query parameter)`,
          );
        }
        return WEBHOOK_CALLER;
      },
      handle: async ({ body, log }: { body: ExecutionContext; log: Logger }) => {
        const outcome = await (await services()).notify.useCase().handle(body);
        const about = { entity: body.PrimaryEntityName, message: body.MessageName, depth: body.Depth };
        if ('status' in outcome) {
          log.info('notification queued a pull', { ...about, slot: outcome.job.slot });
          return {
            status: 202,
            jsonBody: {
              queued: { entity: outcome.job.entity, slot: outcome.job.slot, reason: outcome.job.reason },
            },
          };
        }
        if (outcome.kind === 'ignore') {
          log.debug('notification of our own change ignored', about);
          return { status: 200, jsonBody: { ignored: outcome.reason } };
        }
        log.warn('notification refused', { ...about, code: outcome.code });
        throw new HttpProblem(
          outcome.code === 'wrong_organization' ? 403 : 422,
          outcome.code,
          outcome.message,
        );
      },
    },
  };
}
