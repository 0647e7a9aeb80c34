import { z } from 'zod';
import { optionalText } from './setting.values';
import { isSecretKey, redactSettingValue } from '../errors/redact.text';
import { ConfigError } from './config.errors';

/**
 * Every application setting the code reads. The infrastructure checks (issue 5) import this list so
 * that code and deployment can never disagree on a name.
 */
export const SETTING_NAMES = [
  'DATAVERSE_URL',
  'DATAVERSE_TENANT_ID',
  'DATAVERSE_CLIENT_ID',
  'DATAVERSE_CLIENT_SECRET',
  'DATAVERSE_CLIENT_CERTIFICATE_PATH',
  'DATAVERSE_TOKEN_ENDPOINT',
  'DATAVERSE_MAX_CONCURRENCY',
  'DATAVERSE_BUDGET',
  'DATAVERSE_BUDGET_REQUESTS',
  'DATAVERSE_BUDGET_EXECUTION_SECONDS',
  'DATAVERSE_BUDGET_CONCURRENCY',
  'DATAVERSE_BUDGET_WINDOW_SECONDS',
  'DATAVERSE_BUDGET_LEASE_SECONDS',
  'COSMOS_ENDPOINT',
  'COSMOS_KEY',
  'COSMOS_DATABASE',
  'COSMOS',
  'COSMOS__accountEndpoint',
  'SERVICEBUS',
  'SERVICEBUS__fullyQualifiedNamespace',
  'PULL_JOBS_QUEUE',
  'PUSH_RETRY_QUEUE',
  'SYNC_ENTITIES',
  'SYNC_CONFIG',
  'SYNC_SCHEDULE',
  'SYNC_TIME_BUDGET_SECONDS',
  'SYNC_PARALLEL_LOAD',
  'PUSH_BATCH_SIZE',
  'VERIFY_SCHEDULE',
  'VERIFY_PUSH_WINDOW_MINUTES',
  'LOG_LEVEL',
  'API_AUTHORIZATION',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'NOTIFY_SECRET',
  'NOTIFY_SECRET_PREVIOUS',
  'NOTIFY_WINDOW_SECONDS',
  'DATAVERSE_ORGANIZATION_ID',
] as const;

export type SettingName = (typeof SETTING_NAMES)[number];

export const DEFAULT_ENTITIES = ['lead', 'contact', 'account', 'opportunity', 'systemuser', 'team'] as const;
/**
 * Built-in entities synced only when SYNC_ENTITIES names them: marketing lists, campaigns and
 * opportunity stakeholders (with the memberships and roles worked out from them), and team memberships.
 */
export const OPT_IN_ENTITIES = [
  'list',
  'listmember',
  'campaign',
  'campaignitem',
  'connectionrole',
  'connection',
  'teammembership',
] as const;

/**
 * An endpoint URL. A user name, password, query string or fragment is refused: none is ever needed
 * here, and each is where a credential ends up when pasted into the wrong setting.
 */
const httpUrl = (credentials: string) =>
  z
    .string()
    .trim()
    .pipe(
      z.url({ protocol: /^https?$/, error: 'must be an https:// URL (http:// only for a local stand-in)' }),
    )
    .check(
      z.refine((value: string) => !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(value), {
        message: `must not carry a user name or password (${credentials})`,
      }),
      z.refine((value: string) => !/[?#]/.test(value), {
        message: 'must not carry a query string or fragment: give the address only',
      }),
    )
    .transform((value) => value.replace(/\/+$/, ''));

const optionalUrl = (credentials: string) =>
  z
    .string()
    .trim()
    .transform((value) => (value === '' ? undefined : value))
    .pipe(httpUrl(credentials).optional())
    .optional();

const DATAVERSE_SIGN_IN =
  'Dataverse is signed in to with the app registration (DATAVERSE_CLIENT_ID and DATAVERSE_CLIENT_SECRET or DATAVERSE_CLIENT_CERTIFICATE_PATH)';
const COSMOS_SIGN_IN = 'the account key goes in COSMOS_KEY (or leave it unset for managed identity)';

const guidOrName = z.string().trim().min(1, 'is required');

const intInRange = (min: number, max: number, fallback: number) =>
  z.coerce
    .number()
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback);

const secondsInRange = (min: number, max: number, fallback: number) =>
  z.coerce.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`).default(fallback);

const entityList = z
  .string()
  .trim()
  .default(DEFAULT_ENTITIES.join(','))
  .transform((value) =>
    value
      .split(',')
      .map((entity) => entity.trim().toLowerCase())
      .filter((entity) => entity !== ''),
  )
  .refine((list) => list.length > 0, 'must name at least one entity')
  .refine((list) => new Set(list).size === list.length, 'names an entity twice');

export const dataverseEnvShape = {
  DATAVERSE_URL: httpUrl(DATAVERSE_SIGN_IN),
  DATAVERSE_TENANT_ID: guidOrName,
  DATAVERSE_CLIENT_ID: guidOrName,
  DATAVERSE_CLIENT_SECRET: optionalText,
  DATAVERSE_CLIENT_CERTIFICATE_PATH: optionalText,
  DATAVERSE_TOKEN_ENDPOINT: optionalUrl(DATAVERSE_SIGN_IN),
  // Dataverse rejects more than 52 concurrent requests per user; 8 leaves room for other integrations.
  DATAVERSE_MAX_CONCURRENCY: intInRange(1, 52, 8),
  // The service protection limits are per application user, whatever the number of instances: with
  // `shared` every process leases its part from one document in sync-state (docs/api-budget.md).
  DATAVERSE_BUDGET: z.enum(['shared', 'process']).default('shared'),
  DATAVERSE_BUDGET_REQUESTS: intInRange(1, 6000, 6000),
  DATAVERSE_BUDGET_EXECUTION_SECONDS: secondsInRange(0.1, 1200, 1200),
  DATAVERSE_BUDGET_CONCURRENCY: intInRange(1, 52, 52),
  DATAVERSE_BUDGET_WINDOW_SECONDS: secondsInRange(0.5, 3600, 300),
  DATAVERSE_BUDGET_LEASE_SECONDS: secondsInRange(0.05, 60, 10),
};

export const cosmosEnvShape = {
  COSMOS_ENDPOINT: httpUrl(COSMOS_SIGN_IN),
  COSMOS_KEY: optionalText,
  COSMOS_DATABASE: z.string().trim().min(1).default('marketing'),
};

export const serviceBusEnvShape = {
  SERVICEBUS: optionalText,
  SERVICEBUS__fullyQualifiedNamespace: optionalText,
  PULL_JOBS_QUEUE: z.string().trim().min(1).default('pull-jobs'),
  PUSH_RETRY_QUEUE: z.string().trim().min(1).default('push-retry'),
};

export const syncEnvShape = {
  SYNC_ENTITIES: entityList,
  SYNC_CONFIG: optionalText,
  // NCRONTAB with seconds, as the Functions timer trigger expects.
  SYNC_SCHEDULE: z
    .string()
    .trim()
    .default('0 */1 * * * *')
    .refine((value) => value.split(/\s+/).length === 6, 'must be a 6-field NCRONTAB expression'),
  SYNC_TIME_BUDGET_SECONDS: intInRange(10, 3600, 240),
  // Entities whose full loads read in parallel ranges (docs/initial-load.md); none by default.
  SYNC_PARALLEL_LOAD: z
    .string()
    .trim()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((entity) => entity.trim().toLowerCase())
        .filter((entity) => entity !== ''),
    ),
  // Writes per $batch when pushing to Dynamics; a $batch holds at most 1000 requests.
  PUSH_BATCH_SIZE: intInRange(1, 1000, 100),
  // The scheduled verify (drift audit): daily at 03:00 UTC by default.
  VERIFY_SCHEDULE: z
    .string()
    .trim()
    .default('0 0 3 * * *')
    .refine((value) => value.split(/\s+/).length === 6, 'must be a 6-field NCRONTAB expression'),
  // A marketing edit younger than this is still the pusher's (its retry series lasts about 95 minutes).
  VERIFY_PUSH_WINDOW_MINUTES: intInRange(1, 10_080, 120),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  // `app-roles`: callers signed in by App Service authentication need Sync.Read or Sync.Operate.
  // `off` only where nothing but this machine can reach the app (the local stack on 127.0.0.1).
  API_AUTHORIZATION: z.enum(['app-roles', 'off']).default('app-roles'),
  APPLICATIONINSIGHTS_CONNECTION_STRING: optionalText,
};

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The real-time path (docs/realtime.md): Dataverse's webhook posts to POST /api/notify. */
export const notifyEnvShape = {
  // The shared secret Dataverse sends (header or `code`); the previous one is accepted too while rotating.
  NOTIFY_SECRET: optionalText,
  NOTIFY_SECRET_PREVIOUS: optionalText,
  // Notifications of one entity within this window share their pull jobs (Service Bus duplicate detection).
  NOTIFY_WINDOW_SECONDS: intInRange(0, 60, 2),
  // Pins the organisation notifications must come from; WhoAmI's answer when empty.
  DATAVERSE_ORGANIZATION_ID: optionalText.pipe(
    z.string().regex(GUID, 'must be the organisation id (a GUID) WhoAmI answers').optional(),
  ),
};

// `when` makes these cross-field rules run even if another variable of the section is invalid,
// so one start-up error lists everything that needs fixing.
const always = { when: () => true };

const dataverseSchema = z.object(dataverseEnvShape).check(
  z.refine(
    (env: { DATAVERSE_CLIENT_SECRET?: string; DATAVERSE_CLIENT_CERTIFICATE_PATH?: string }) =>
      env.DATAVERSE_CLIENT_SECRET !== undefined || env.DATAVERSE_CLIENT_CERTIFICATE_PATH !== undefined,
    {
      path: ['DATAVERSE_CLIENT_SECRET'],
      message: 'set DATAVERSE_CLIENT_SECRET or DATAVERSE_CLIENT_CERTIFICATE_PATH',
      ...always,
    },
  ),
);

const serviceBusSchema = z.object(serviceBusEnvShape).check(
  z.refine(
    (env: { SERVICEBUS?: string; SERVICEBUS__fullyQualifiedNamespace?: string }) =>
      env.SERVICEBUS !== undefined || env.SERVICEBUS__fullyQualifiedNamespace !== undefined,
    {
      path: ['SERVICEBUS'],
      message:
        'set SERVICEBUS (a connection string, local only) or SERVICEBUS__fullyQualifiedNamespace (managed identity)',
      ...always,
    },
  ),
);

const sections = {
  dataverse: dataverseSchema,
  cosmos: z.object(cosmosEnvShape),
  serviceBus: serviceBusSchema,
  /** Queue names only: for a process that brings its own queue (the CLI) and needs no Service Bus. */
  queues: z.object(serviceBusEnvShape),
  sync: z.object(syncEnvShape),
  notify: z.object(notifyEnvShape),
};

export type ConfigSection = keyof typeof sections;
type SectionConfig<S extends ConfigSection> = z.output<(typeof sections)[S]>;
export type DataverseEnv = SectionConfig<'dataverse'>;
export type CosmosEnv = SectionConfig<'cosmos'>;
export type ServiceBusEnv = SectionConfig<'serviceBus'>;
export type SyncEnv = SectionConfig<'sync'>;
export type NotifyEnv = SectionConfig<'notify'>;

type UnionToIntersection<U> = (U extends unknown ? (arg: U) => void : never) extends (arg: infer I) => void
  ? I
  : never;
export type EnvFor<S extends ConfigSection> = UnionToIntersection<SectionConfig<S>>;

// Secrets must never be echoed back in an error message, even a wrong one.
const SECRET_NAMES = new Set([
  'DATAVERSE_CLIENT_SECRET',
  'COSMOS_KEY',
  'SERVICEBUS',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
]);

/** A connection string where an endpoint belongs: say which part goes where. */
function connectionStringHint(name: string, raw: string): string {
  if (!/(^|;)\s*(AccountEndpoint|Endpoint|AccountKey|SharedAccessKey)\s*=/i.test(raw)) return '';
  if (name === 'COSMOS_ENDPOINT') {
    return '; this is a connection string: set COSMOS_ENDPOINT to its AccountEndpoint and COSMOS_KEY to its AccountKey (or leave COSMOS_KEY unset for managed identity)';
  }
  return '; this is a connection string, not an address: give the endpoint only and put the key in its own setting';
}

function describeIssues(issues: z.core.$ZodIssue[], env: Record<string, string | undefined>): string {
  return issues
    .map((issue) => {
      const name = String(issue.path[0] ?? '(environment)');
      const raw = env[name];
      // The value is shown to help spot a typo, never in full: see redactSettingValue.
      const shown =
        raw === undefined
          ? 'not set'
          : SECRET_NAMES.has(name) || isSecretKey(name)
            ? 'value hidden'
            : `got ${JSON.stringify(redactSettingValue(raw))}`;
      const message = issue.code === 'invalid_type' && raw === undefined ? 'is required' : issue.message;
      const hint = raw === undefined || SECRET_NAMES.has(name) ? '' : connectionStringHint(name, raw);
      return `  ${name}: ${message}${hint} (${shown})`;
    })
    .join('\n');
}

/**
 * Parses only the sections a caller needs, so the scheduler does not demand Dataverse credentials
 * and the CLI's `config check` can report every section at once.
 */
export function loadEnv<S extends ConfigSection>(
  env: Record<string, string | undefined>,
  needed: readonly S[],
): EnvFor<S> {
  const result: Record<string, unknown> = {};
  const issues: z.core.$ZodIssue[] = [];
  for (const section of needed) {
    const parsed = sections[section].safeParse(env);
    if (parsed.success) Object.assign(result, parsed.data);
    else issues.push(...parsed.error.issues);
  }
  if (issues.length > 0) {
    throw new ConfigError('invalid_config', `Invalid configuration:\n${describeIssues(issues, env)}`);
  }
  return result as EnvFor<S>;
}
