import { z } from 'zod';
import { webhookOptionsSchema } from './webhook.dispatcher';

/** Fixed tenant and client for local use (demo, CLI, tests). Not secrets: they only open the simulator. */
export const DEFAULT_TENANT_ID = '7b3e1c2a-4d5f-4a6b-9c8d-0e1f2a3b4c5d';
export const DEFAULT_CLIENT_ID = '51f81489-12ee-4a9e-aaae-a2591f45987d';
export const DEFAULT_CLIENT_SECRET = 'local-simulator-secret';

const choiceOptionSchema = z.object({ value: z.number().int(), label: z.string() });

export const customColumnSchema = z.object({
  /** Attribute logical name; a lookup reads as `_<name>_value`. */
  name: z.string().regex(/^[a-z][a-z0-9_]*$/),
  type: z.enum(['string', 'int', 'decimal', 'bool', 'datetime', 'choice', 'multichoice', 'lookup']),
  options: z.array(choiceOptionSchema).optional(),
  /** Lookup target tables (logical names). */
  targets: z.array(z.string()).optional(),
});
export type CustomColumn = z.infer<typeof customColumnSchema>;

export const customTableSchema = z.object({
  logicalName: z.string().regex(/^[a-z]+_[a-z0-9_]+$/),
  entitySetName: z.string().regex(/^[a-z][a-z0-9_]*$/),
  primaryKey: z.string().optional(),
  /** Primary name column; created as a string column when not among `columns`. */
  primaryName: z.string().optional(),
  columns: z.array(customColumnSchema).default([]),
  /** Lookup column (attribute name) linking each row to a contact, lead or account. */
  link: z.object({ column: z.string(), target: z.enum(['contact', 'lead', 'account']) }).optional(),
  count: z.number().int().min(0).default(0),
});
export type CustomTableOptions = z.infer<typeof customTableSchema>;

export const limitsSchema = z.object({
  requestsPerWindow: z.number().int().positive().default(6000),
  windowSeconds: z.number().positive().default(300),
  executionMsPerWindow: z.number().positive().default(1_200_000),
  concurrentRequests: z.number().int().positive().default(52),
  /** First Retry-After; doubles while a client keeps pushing during its penalty. */
  retryAfterSeconds: z.number().positive().default(5),
  maxRetryAfterSeconds: z.number().positive().default(300),
  /**
   * Requests arriving this soon after a 429 was issued were already on the wire when the client
   * got it (concurrent requests), so they are refused without counting as a Retry-After violation.
   * Generous enough for a loaded 2-core machine; a client that keeps retrying during the penalty
   * is still caught by every request after the grace.
   */
  violationGraceMs: z.number().min(0).default(50),
});
export type SimulatorLimits = z.infer<typeof limitsSchema>;

/**
 * Opt-in server time per read, as a real organisation spends it: a base per request plus a cost per
 * row and per cell (row x column) returned. The defaults make a 5,000-row page of the contact's 19
 * synced columns take about 2 s and a page of two columns (key and createdon) about 0.22 s. The time is
 * slept before the answer is sent, so it counts towards the execution-time limit like real work.
 */
export const latencyModelSchema = z.object({
  baseMs: z.number().min(0).default(10),
  perRowMs: z.number().min(0).default(0.002),
  perCellMs: z.number().min(0).default(0.0205),
  /** Multiplies the whole cost (a benchmark at a tenth of the size can charge ten times as much). */
  scale: z.number().positive().default(1),
});
export type LatencyModel = z.output<typeof latencyModelSchema>;

/** Server time the latency model charges for a read of `rows` rows of `columns` columns. */
export const readCostMs = (model: LatencyModel, rows: number, columns: number): number =>
  (model.baseMs + rows * (model.perRowMs + columns * model.perCellMs)) * model.scale;

export const clientSchema = z.object({
  clientId: z.string().min(1),
  clientSecret: z.string().optional(),
  /** Cert-based client: authenticates with a client_assertion JWT (signature not verified). */
  certificate: z.boolean().optional(),
});

export const simulatorOptionsSchema = z.object({
  port: z.number().int().min(0).max(65535).default(0),
  seed: z.number().int().default(42),
  records: z.number().int().min(0).default(1000),
  counts: z
    .object({
      contact: z.number().int().min(0),
      lead: z.number().int().min(0),
      account: z.number().int().min(0),
      opportunity: z.number().int().min(0),
      systemuser: z.number().int().min(1),
      team: z.number().int().min(0),
      task: z.number().int().min(0),
      list: z.number().int().min(0),
      campaign: z.number().int().min(0),
      /** Stakeholder connections on opportunities (each stored twice: see connection.rules.ts). */
      connection: z.number().int().min(0),
    })
    .partial()
    .optional(),
  tenantId: z.string().default(DEFAULT_TENANT_ID),
  /** Extra resource URL accepted in the token scope besides the simulator URL. */
  orgUrl: z.string().default('https://simulator.crm.dynamics.com'),
  clients: z
    .array(clientSchema)
    .min(1)
    .default([{ clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET }]),
  tokenLifetimeSeconds: z.number().int().positive().default(3600),
  changeTrackingRetentionDays: z.number().positive().default(7),
  untrackedTables: z.array(z.string()).default([]),
  /** The organisation id WhoAmI answers; derived from the seed when left out. */
  organizationId: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i)
    .optional(),
  customTables: z.array(customTableSchema).default([]),
  limits: limitsSchema.partial().default({}),
  /** Charge server time in proportion to what each read returns (off unless given). */
  latency: latencyModelSchema.partial().optional(),
  initialTokenAt: z.enum(['end', 'start']).default('end'),
  now: z.custom<() => number>((v) => typeof v === 'function').optional(),
  maxPageSize: z.number().int().positive().max(5000).default(5000),
  /** Keep at most this many entries in the request log. */
  requestLogSize: z.number().int().positive().default(10000),
  /** Require a bearer token on API calls (off only for quick manual poking). */
  requireAuth: z.boolean().default(true),
  /** Registered webhooks: delay before the first post, retries, timeout (see webhook.dispatcher.ts). */
  webhooks: webhookOptionsSchema.prefault({}),
});

/** `POST /_sim/webhooks`: turn delivery off (notifications lost) or change the delay. */
export const webhookSettingsSchema = z.strictObject({
  enabled: z.boolean().optional(),
  delayMs: z.number().min(0).optional(),
});

export type SimulatorOptions = z.input<typeof simulatorOptionsSchema>;
export type ResolvedSimulatorOptions = z.output<typeof simulatorOptionsSchema>;

export const resolveLimits = (partial: Partial<SimulatorLimits>): SimulatorLimits =>
  limitsSchema.parse(partial);
