import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { AppError, describeError } from '../errors/app.errors';
import type { AuditTrail } from '../sync/ports';
import type { Logger } from '../telemetry/logger';

/** Larger bodies are refused before they are parsed: no operator request needs more. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Azure's function key travels as `code` in the query string; it is never validated or echoed. */
const FUNCTION_KEY = 'code';

/** What a caller may do: read the sync's state, or change something. */
export type Permission = 'read' | 'operate';

/** App roles of the app registration that grant each permission (Operate implies Read). */
export const ROLE_OF: Record<Permission, readonly string[]> = {
  read: ['Sync.Read', 'Sync.Operate'],
  operate: ['Sync.Operate'],
};

/** The authenticated caller, as App Service Authentication describes it. */
export interface Caller {
  /** Who, for the audit trail: a user's name, or an application's client id. */
  name: string;
  roles: string[];
}

export function problem(status: number, code: string, message: string, details?: unknown): HttpResponseInit {
  return { status, jsonBody: { error: { code, message, ...(details !== undefined ? { details } : {}) } } };
}

/** An answer a route gives on purpose (a missing person, an unknown entity): status, code and message. */
export class HttpProblem extends AppError<string> {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super('HttpProblem', code, message, false);
  }
}

export interface RouteInput<Q, B> {
  query: Q;
  body: B;
  params: Record<string, string>;
  caller: Caller;
  log: Logger;
}

/** What an operator action did, for the audit trail (never a secret or a person's data). */
export interface AuditNote {
  target: string;
  detail?: string;
}

export interface RouteSpec<Q, B> {
  /** A strict object schema: unknown parameters are refused, not ignored (`code` aside). */
  query: z.ZodType<Q>;
  /** Undefined: the route takes no body (a body sent anyway is refused). */
  body?: z.ZodType<B>;
  permission: Permission;
  handle(input: RouteInput<Q, B>): Promise<HttpResponseInit>;
  /** Routes that change something say what, and the outcome is written to the audit trail. */
  audit?(input: RouteInput<Q, B>): AuditNote;
  /**
   * Replaces the app-role check for a caller that cannot sign in with Entra ID (a Dataverse webhook):
   * the route checks a secret of its own before the body is read. App Service authentication must
   * exclude its path (infra/function.tf, excluded_paths), or the caller never reaches it.
   */
  authenticate?(request: HttpRequest): Promise<Caller>;
  /** Bodies larger than this are refused before they are parsed; {@link MAX_BODY_BYTES} when unset. */
  maxBodyBytes?: number;
}

export interface RouteOptions {
  /** `off` only where nothing but 127.0.0.1 can reach the app (the local stack). */
  authorization: 'app-roles' | 'off';
  log(context: InvocationContext): Logger;
  audit: AuditTrail;
}

const issuesOf = (error: z.ZodError) =>
  error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));

/**
 * One HTTP route: authorization by app role, the query and body validated by strict schemas, and
 * every failure answered as JSON `{error: {code, message, details?}}` that changes nothing. An
 * unexpected failure is logged and answered with a 500 that carries no error text.
 */
export function route<Q, B = undefined>(
  spec: RouteSpec<Q, B>,
  options: () => Promise<RouteOptions>,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (request, context) => {
    let log: Logger | undefined;
    try {
      const settings = await options();
      log = settings.log(context);
      const caller =
        spec.authenticate !== undefined
          ? await spec.authenticate(request)
          : authorize(request, spec.permission, settings.authorization);
      // Where a route has a `code` parameter of its own (the errors filter), it is that, not the key.
      const keyIsCode = !(spec.query instanceof z.ZodObject && FUNCTION_KEY in spec.query.shape);
      const rawQuery: Record<string, string> = {};
      for (const [name, value] of request.query.entries()) {
        if (name !== FUNCTION_KEY || !keyIsCode) rawQuery[name] = value;
      }
      const query = spec.query.safeParse(rawQuery);
      if (!query.success)
        throw new HttpProblem(
          400,
          'invalid_query',
          'the query string failed validation',
          issuesOf(query.error),
        );
      const body = await readBody(request, spec.body, spec.maxBodyBytes ?? MAX_BODY_BYTES);
      const input: RouteInput<Q, B> = {
        query: query.data,
        body: body as B,
        params: request.params,
        caller,
        log,
      };
      if (spec.audit === undefined) return await spec.handle(input);
      const note = spec.audit(input);
      const action = `${request.method} ${new URL(request.url).pathname}`;
      let outcome = 'failed';
      try {
        const response = await spec.handle(input);
        outcome = String(response.status ?? 200);
        return response;
      } catch (error) {
        if (error instanceof HttpProblem) outcome = String(error.status);
        throw error;
      } finally {
        await settings.audit
          .record({ at: new Date().toISOString(), who: caller.name, action, outcome, ...note })
          .catch((error: unknown) =>
            log?.warn('the audit trail did not take this action', { error: describeError(error) }),
          );
      }
    } catch (error) {
      if (error instanceof HttpProblem)
        return problem(error.status, error.code, error.message, error.details);
      (log ?? settingsLessLog(context)).error('request failed', { error: describeError(error) });
      const retryable = error instanceof AppError && error.retryable;
      return retryable
        ? problem(503, 'unavailable', 'a service the sync depends on did not answer; try again shortly')
        : problem(500, 'internal_error', 'the request failed; the function log has the details');
    }
  };
}

async function readBody<B>(
  request: HttpRequest,
  schema: z.ZodType<B> | undefined,
  limit: number,
): Promise<B | undefined> {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const text = await request.text();
  if (Buffer.byteLength(text) > limit) throw tooLarge(limit);
  if (schema === undefined) {
    if (text.trim() !== '') throw new HttpProblem(400, 'unexpected_body', 'this route takes no request body');
    return undefined;
  }
  let json: unknown = {};
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      throw new HttpProblem(400, 'invalid_json', 'the request body is not valid JSON');
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new HttpProblem(
      400,
      'invalid_request',
      'the request body failed validation',
      issuesOf(parsed.error),
    );
  return parsed.data;
}

const tooLarge = (limit: number) =>
  new HttpProblem(413, 'body_too_large', `the request body is larger than ${limit} bytes`);

const principalSchema = z.object({
  auth_typ: z.string().optional(),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })).default([]),
});

const ROLE_CLAIMS = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];
const NAME_CLAIMS = ['name', 'preferred_username', 'appid', 'azp', 'oid'];

/**
 * The caller App Service Authentication signed in. It sets `x-ms-client-principal` (base64 JSON of
 * the token's claims) on every request it lets through and strips any a client sends, so the
 * header is trusted only where that authentication is on: `authorization: 'app-roles'`.
 */
export function authorize(
  request: HttpRequest,
  permission: Permission,
  mode: RouteOptions['authorization'],
): Caller {
  if (mode === 'off') return { name: 'local', roles: [...ROLE_OF.operate] };
  const header = request.headers.get('x-ms-client-principal');
  if (header === null) {
    throw new HttpProblem(
      401,
      'unauthenticated',
      'sign in with Microsoft Entra ID (App Service authentication) first',
    );
  }
  let decoded: z.output<typeof principalSchema>;
  try {
    decoded = principalSchema.parse(JSON.parse(Buffer.from(header, 'base64').toString('utf8')));
  } catch {
    throw new HttpProblem(401, 'unauthenticated', 'the client principal could not be read; sign in again');
  }
  const roleClaims = new Set([...ROLE_CLAIMS, ...(decoded.role_typ !== undefined ? [decoded.role_typ] : [])]);
  const roles = decoded.claims.filter((claim) => roleClaims.has(claim.typ)).map((claim) => claim.val);
  const nameClaims = [...(decoded.name_typ !== undefined ? [decoded.name_typ] : []), ...NAME_CLAIMS];
  const name =
    nameClaims
      .map((typ) => decoded.claims.find((claim) => claim.typ === typ)?.val)
      .find((val) => val !== undefined) ?? 'unknown caller';
  if (!roles.some((role) => ROLE_OF[permission].includes(role))) {
    throw new HttpProblem(
      403,
      'forbidden',
      `this needs the app role ${ROLE_OF[permission].join(' or ')}; ask an administrator to assign it in Entra ID`,
    );
  }
  return { name, roles };
}

function settingsLessLog(context: InvocationContext): Pick<Logger, 'error'> {
  return { error: (message, fields) => context.error(message, JSON.stringify(fields ?? {})) };
}
