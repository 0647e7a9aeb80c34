// The operator API (docs/api.md). The shapes of its answers are the server's own types, imported as
// types only: the bundle holds none of the server's code, and a change of an answer's shape fails the
// console's type check instead of showing up as a blank cell.
import type { FieldValue, FieldValues } from '../../shared/domain/record.model';
import type { SyncErrorRecord } from '../../shared/domain/sync-error.model';
import type { RetryAnswer } from '../../shared/sync/manual-actions.use-case';
import type { PersonView } from '../../shared/sync/person.use-case';
import type { EntityStatusView, SyncStatusView } from '../../shared/sync/status.query';

export type { FieldValue, FieldValues, PersonView, RetryAnswer };
export type SyncStatus = SyncStatusView;
export type EntityStatus = EntityStatusView;
export type EntityState = EntityStatusView['state'];
export type SyncError = SyncErrorRecord;

export interface ErrorFilters {
  q: string;
  entity: string;
  status: 'open' | 'resolved' | 'all';
  code: string;
}

export type PullMode = 'now' | 'resync' | 'pause' | 'resume';

export interface SyncToDynamicsAnswer {
  outcome: 'created' | 'linked' | 'already-linked';
  table: string;
  rowId: string;
}

export interface OwnerAnswer {
  table: string;
  rowId: string;
  ownerId: string;
  ownerType: 'systemuser' | 'team';
}

export interface TaskRequest {
  subject: string;
  description?: string;
  dueDate?: string;
  priority?: 'low' | 'normal' | 'high';
}

export interface ValidationCheck {
  id: string;
  status: 'pass' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

export interface ValidationReport {
  ok: boolean;
  checks: ValidationCheck[];
}

/** A refusal or failure to show the operator: the API's own message, never a stack trace. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The API's base: the console is served at `<prefix>/console/`, the API at `<prefix>/`. */
export const API_BASE = new URL('../', document.baseURI);

/** A URL of the API, with only the query parameters that have a value. */
export function apiUrl(path: string, query: Record<string, string | number | undefined> = {}): string {
  const url = new URL(path, API_BASE);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') url.searchParams.set(name, String(value));
  }
  return url.toString();
}

interface ProblemBody {
  error?: { code?: unknown; message?: unknown; details?: unknown };
}

/** `path: message` of each validation issue the API listed, so a refusal says which field was wrong. */
function detailsText(details: unknown): string {
  if (!Array.isArray(details)) return '';
  const parts = details
    .map((d: { path?: unknown; message?: unknown }) =>
      typeof d?.message === 'string'
        ? `${typeof d.path === 'string' && d.path ? `${d.path}: ` : ''}${d.message}`
        : '',
    )
    .filter(Boolean);
  return parts.length > 0 ? ` (${parts.join('; ')})` : '';
}

async function problemOf(response: Response): Promise<ApiError> {
  let body: ProblemBody | undefined;
  try {
    body = (await response.json()) as ProblemBody;
  } catch {
    body = undefined;
  }
  const error = body?.error;
  if (error !== undefined && typeof error.message === 'string') {
    return new ApiError(
      `${error.message}${detailsText(error.details)}`,
      response.status,
      typeof error.code === 'string' ? error.code : 'error',
    );
  }
  // Not the API's JSON: App Service authentication or a gateway answered instead.
  if (response.status === 401) {
    return new ApiError('You are signed out. Reload the page to sign in again.', 401, 'unauthenticated');
  }
  return new ApiError(
    `The server answered ${response.status} ${response.statusText || ''}`.trim() + '. Try again shortly.',
    response.status,
    'http_error',
  );
}

async function send(path: string, init: RequestInit, query?: Record<string, string | number | undefined>) {
  let response: Response;
  try {
    response = await fetch(apiUrl(path, query), {
      ...init,
      headers: {
        accept: 'application/json',
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      // App Service authentication keeps the session in a same-origin cookie.
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(
      'The app did not answer. Check your connection, or that the Functions app is running.',
      0,
      'offline',
    );
  }
  if (!response.ok) throw await problemOf(response);
  return response;
}

export async function getJson<T>(
  path: string,
  query?: Record<string, string | number | undefined>,
): Promise<T> {
  return (await (await send(path, { method: 'GET' }, query)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const response = await send(path, { method: 'POST', body: JSON.stringify(body) });
  return (await response.json()) as T;
}

/** A person id or entity name as one path segment. */
export const segment = (value: string): string => encodeURIComponent(value);

export const api = {
  status: () => getJson<SyncStatus>('status'),
  errors: (filters: ErrorFilters, limit: number, continuation?: string) =>
    getJson<{ errors: SyncError[]; continuation?: string }>('errors', {
      ...errorQuery(filters),
      limit,
      continuation,
    }),
  errorsCsvUrl: (filters: ErrorFilters) => apiUrl('errors', { ...errorQuery(filters), format: 'csv' }),
  retryErrors: (body: { errorIds: string[] } | { all: true; entity: string }) =>
    postJson<RetryAnswer>('errors/retry', body),
  requestPull: (entity: string, mode: PullMode) => postJson<unknown>(`sync/${segment(entity)}`, { mode }),
  pushRetry: (personIds: string[]) =>
    postJson<{ queued: string[]; unknown: string[] }>('push/retry', { personIds }),
  personsByEmail: (email: string) => getJson<{ persons: PersonView[] }>('persons', { email }),
  person: (id: string) => getJson<PersonView>(`persons/${segment(id)}`),
  syncToDynamics: (id: string, body: { as: 'lead' | 'contact'; ownerId?: string }) =>
    postJson<SyncToDynamicsAnswer>(`persons/${segment(id)}/sync-to-dynamics`, body),
  changeOwner: (id: string, body: { ownerId: string; ownerType: 'systemuser' | 'team' }) =>
    postJson<OwnerAnswer>(`persons/${segment(id)}/owner`, body),
  createTask: (id: string, body: TaskRequest) =>
    postJson<{ taskId: string }>(`persons/${segment(id)}/tasks`, body),
  validate: () => postJson<ValidationReport>('validate', {}),
};

function errorQuery(filters: ErrorFilters): Record<string, string | undefined> {
  return {
    q: filters.q.trim() || undefined,
    entity: filters.entity || undefined,
    status: filters.status,
    code: filters.code.trim() || undefined,
  };
}
