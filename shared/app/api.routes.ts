import { z } from 'zod';
import { errorsAsCsv, type SyncErrorRecord } from '../domain/sync-error.model';
import {
  documentIdSchema,
  errorRetryRequestSchema,
  ManualActionError,
  pullModeSchema,
} from '../sync/manual-actions.use-case';
import {
  ownerRequestSchema,
  PersonActionError,
  taskRequestSchema,
  type PersonActionCode,
} from '../sync/person.use-case';
import type { AppServices } from './app.services';
import { enqueueVerify } from './verify.composition';
import { HttpProblem, type RouteSpec } from './http.route';
import { notifyRoute } from './notify.route';
import type { HttpResponseInit } from '@azure/functions';
import type { Logger } from '../telemetry/logger';

const ownerIdSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID');

/** One HTTP route of the app, as the Functions app registers it (`/api` prefix added by the host). */
export interface ApiRoute {
  /** The function's name. */
  name: string;
  method: 'GET' | 'POST';
  route: string;
  // Each route has its own query and body types; the table only needs to register them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec: RouteSpec<any, any>;
}

const entityName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be an entity logical name (lower case)');

/** `GET /api/errors`: every filter is optional; unknown parameters are refused. */
export const errorQuerySchema = z.strictObject({
  entity: entityName.optional(),
  status: z.enum(['open', 'resolved', 'all']).default('open'),
  q: z.string().trim().min(1).max(200).optional(),
  code: z.string().trim().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  continuation: z.string().min(1).max(4096).optional(),
  format: z.enum(['json', 'csv']).default('json'),
});

/** `POST /api/verify`: which entities (default every synced one), and whether to repair what drifted. */
export const verifyRequestSchema = z.strictObject({
  entities: z.array(entityName).min(1).max(50).optional(),
  repair: z.boolean().default(false),
});

/** An export never holds more than this many rows: a larger one is a search to narrow. */
export const MAX_EXPORT_ROWS = 50_000;

const noQuery = z.strictObject({});

const PERSON_STATUS: Record<PersonActionCode, number> = {
  not_found: 404,
  not_linked: 409,
  forgotten: 409,
  unknown_owner: 422,
  owner_disabled: 422,
  rejected: 422,
};

/** Maps an operator action's refusal to its HTTP answer. */
function asProblem(error: unknown): never {
  if (error instanceof ManualActionError) {
    throw new HttpProblem(error.code === 'checkpoint_busy' ? 409 : 404, error.code, error.message);
  }
  if (error instanceof PersonActionError)
    throw new HttpProblem(PERSON_STATUS[error.code], error.code, error.message);
  throw error;
}

/** The `{id}` of a person route, refused before anything is looked up when it cannot be a document id. */
function personId(params: Record<string, string>): string {
  const parsed = documentIdSchema.safeParse(params.id ?? '');
  if (!parsed.success)
    throw new HttpProblem(400, 'invalid_request', 'the person id in the URL is not a document id');
  return parsed.data;
}

/** A person action: the id checked, the action run, its refusals mapped, and an audit note. */
function personAction<B>(
  services: () => Promise<AppServices>,
  body: z.ZodType<B>,
  run: (
    s: AppServices,
    id: string,
    body: B,
    who: { caller: string; log: Logger },
  ) => Promise<HttpResponseInit>,
  describe: (body: B) => string | undefined = () => undefined,
): RouteSpec<Record<string, never>, B> {
  return {
    query: noQuery as z.ZodType<Record<string, never>>,
    body,
    permission: 'operate',
    audit: ({ params, body: input }) => {
      const detail = describe(input);
      return {
        target: `person ${(params.id ?? '').slice(0, 255)}`,
        ...(detail !== undefined ? { detail } : {}),
      };
    },
    handle: async ({ params, body: input, caller, log }) => {
      const id = personId(params);
      try {
        return await run(await services(), id, input, { caller: caller.name, log });
      } catch (error) {
        return asProblem(error);
      }
    },
  };
}

const OUTCOME = { created: 'created', linked: 'linked', exists: 'already-linked' } as const;

/** The app's HTTP API: each route validated, authorized and (when it changes something) audited. */
export function apiRoutes(services: () => Promise<AppServices>): ApiRoute[] {
  return [
    {
      name: 'status',
      method: 'GET',
      route: 'status',
      spec: {
        query: noQuery,
        permission: 'read',
        handle: async () => ({ status: 200, jsonBody: await (await services()).sync.status() }),
      },
    },
    {
      name: 'errors',
      method: 'GET',
      route: 'errors',
      spec: {
        query: errorQuerySchema,
        permission: 'read',
        handle: async ({ query }: { query: z.output<typeof errorQuerySchema> }) => {
          const sync = (await services()).sync;
          const search = {
            status: query.status,
            limit: query.limit,
            ...(query.entity !== undefined ? { entity: query.entity } : {}),
            ...(query.q !== undefined ? { q: query.q } : {}),
            ...(query.code !== undefined ? { code: query.code } : {}),
            ...(query.continuation !== undefined ? { continuation: query.continuation } : {}),
          };
          try {
            if (query.format === 'json') return { status: 200, jsonBody: await sync.searchErrors(search) };
            const rows: SyncErrorRecord[] = [];
            let continuation = search.continuation;
            do {
              const page = await sync.searchErrors({
                ...search,
                limit: 1000,
                ...(continuation !== undefined ? { continuation } : {}),
              });
              rows.push(...page.errors);
              continuation = page.continuation;
            } while (continuation !== undefined && rows.length < MAX_EXPORT_ROWS);
            return {
              status: 200,
              headers: {
                'content-type': 'text/csv; charset=utf-8',
                'content-disposition': `attachment; filename="sync-errors-${new Date().toISOString().slice(0, 10)}.csv"`,
              },
              body: errorsAsCsv(rows.slice(0, MAX_EXPORT_ROWS)),
            };
          } catch (error) {
            return asProblem(error);
          }
        },
      },
    },
    {
      name: 'errors-retry',
      method: 'POST',
      route: 'errors/retry',
      spec: {
        query: noQuery,
        body: errorRetryRequestSchema,
        permission: 'operate',
        audit: ({ body }: { body: z.output<typeof errorRetryRequestSchema> }) => ({
          target:
            'errorIds' in body ? `${body.errorIds.length} error(s)` : `all open errors of ${body.entity}`,
        }),
        handle: async ({ body }: { body: z.output<typeof errorRetryRequestSchema> }) => {
          try {
            return { status: 202, jsonBody: await (await services()).sync.actions.retryErrors(body) };
          } catch (error) {
            return asProblem(error);
          }
        },
      },
    },
    {
      // Kept for scripts written against it: a fresh series of attempts for these people.
      name: 'push-retry-request',
      method: 'POST',
      route: 'push/retry',
      spec: {
        query: noQuery,
        body: z.strictObject({ personIds: z.array(documentIdSchema).min(1).max(1000) }),
        permission: 'operate',
        audit: ({ body }: { body: { personIds: string[] } }) => ({
          target: `${body.personIds.length} person(s)`,
        }),
        handle: async ({ body }: { body: { personIds: string[] } }) => ({
          status: 202,
          jsonBody: await (await services()).sync.actions.retryParkedPushes(body.personIds),
        }),
      },
    },
    {
      name: 'sync-request',
      method: 'POST',
      route: 'sync/{entity}',
      spec: {
        query: noQuery,
        body: z.strictObject({ mode: pullModeSchema.default('now') }),
        permission: 'operate',
        audit: ({ params, body }: { params: Record<string, string>; body: { mode: string } }) => ({
          target: (params.entity ?? '').slice(0, 64),
          detail: `mode ${body.mode}`,
        }),
        handle: async ({ params, body, log }) => {
          const entity = params.entity ?? '';
          try {
            const answer = await (await services()).sync.actions.requestPull(entity, body.mode);
            log.info('pull requested', { entity, mode: body.mode });
            return { status: 202, jsonBody: 'kind' in answer ? { job: answer } : answer };
          } catch (error) {
            return asProblem(error);
          }
        },
      },
    },
    {
      name: 'persons',
      method: 'GET',
      route: 'persons',
      spec: {
        query: z.strictObject({ email: z.email().max(320) }),
        permission: 'read',
        handle: async ({ query }: { query: { email: string } }) => ({
          status: 200,
          jsonBody: { persons: await (await services()).sync.persons().byEmail(query.email) },
        }),
      },
    },
    {
      name: 'person',
      method: 'GET',
      route: 'persons/{id}',
      spec: {
        query: noQuery,
        permission: 'read',
        handle: async ({ params }) => {
          const id = personId(params);
          const view = await (await services()).sync.persons().view(id);
          if (view === undefined) throw new HttpProblem(404, 'not_found', `no person with id ${id}`);
          return { status: 200, jsonBody: view };
        },
      },
    },
    {
      name: 'person-sync-to-dynamics',
      method: 'POST',
      route: 'persons/{id}/sync-to-dynamics',
      spec: personAction(
        services,
        z.strictObject({ as: z.enum(['lead', 'contact']), ownerId: ownerIdSchema.optional() }),
        async (s, id, body, { log }) => {
          const result = await s.sync.createPerson({ personId: id, ...body }, log);
          switch (result.status) {
            case 'created':
            case 'linked':
            case 'exists':
              return {
                status: 200,
                jsonBody: { outcome: OUTCOME[result.status], table: result.table, rowId: result.rowId },
              };
            case 'not_found':
              throw new PersonActionError('not_found', `no person with id ${id}`);
            case 'duplicate':
              throw new HttpProblem(
                409,
                'duplicate',
                `the ${result.table} with this email (${result.rowId}) already belongs to person ${result.otherPersonId}; merge the two people on the marketing side`,
              );
            case 'rejected':
              throw new PersonActionError('rejected', `Dynamics refused: ${result.message}`);
          }
        },
        (body) => `as ${body.as}`,
      ),
    },
    {
      name: 'person-owner',
      method: 'POST',
      route: 'persons/{id}/owner',
      spec: personAction(
        services,
        ownerRequestSchema,
        async (s, id, body) => ({
          status: 200,
          jsonBody: await s.sync.persons().changeOwner(id, { id: body.ownerId, type: body.ownerType }),
        }),
        (body) => `${body.ownerType} ${body.ownerId}`,
      ),
    },
    {
      name: 'person-tasks',
      method: 'POST',
      route: 'persons/{id}/tasks',
      spec: personAction(
        services,
        taskRequestSchema,
        async (s, id, body) => ({ status: 201, jsonBody: await s.sync.persons().createTask(id, body) }),
        // The subject may hold personal data: the audit keeps that a task was created, not what it says.
        () => 'task created',
      ),
    },
    {
      name: 'person-forget',
      method: 'POST',
      route: 'persons/{id}/forget',
      spec: personAction(services, z.strictObject({}), async (s, id, _body, { caller }) => {
        await s.sync.persons().forget(id, caller);
        return { status: 200, jsonBody: { id, forgotten: true } };
      }),
    },
    {
      name: 'person-unforget',
      method: 'POST',
      route: 'persons/{id}/unforget',
      spec: personAction(services, z.strictObject({}), async (s, id) => {
        await s.sync.persons().unforget(id);
        return { status: 200, jsonBody: { id, forgotten: false } };
      }),
    },
    {
      name: 'validate',
      method: 'POST',
      route: 'validate',
      spec: {
        query: noQuery,
        body: z.strictObject({}),
        // It changes nothing, but it sends requests to Dynamics: reading rights are enough.
        permission: 'read',
        handle: async () => ({ status: 200, jsonBody: await (await services()).validate() }),
      },
    },
    {
      name: 'verify-request',
      method: 'POST',
      route: 'verify',
      spec: {
        query: noQuery,
        body: verifyRequestSchema,
        permission: 'operate',
        audit: ({ body }: { body: z.output<typeof verifyRequestSchema> }) => ({
          target: body.entities?.join(', ') ?? 'every synced entity',
          ...(body.repair ? { detail: 'with repair' } : {}),
        }),
        handle: async ({ body }: { body: z.output<typeof verifyRequestSchema> }) => {
          try {
            const jobs = await enqueueVerify(await services(), {
              reason: 'manual',
              repair: body.repair,
              ...(body.entities !== undefined ? { entities: body.entities } : {}),
            });
            return { status: 202, jsonBody: { jobs } };
          } catch (error) {
            return asProblem(error);
          }
        },
      },
    },
    {
      name: 'audit',
      method: 'GET',
      route: 'audit',
      spec: {
        query: z.strictObject({
          limit: z.coerce.number().int().min(1).max(500).default(100),
          continuation: z.string().min(1).max(4096).optional(),
        }),
        permission: 'read',
        handle: async ({ query }: { query: { limit: number; continuation?: string } }) => ({
          status: 200,
          jsonBody: await (await services()).audit.page(query.limit, query.continuation),
        }),
      },
    },
    notifyRoute(services),
  ];
}
