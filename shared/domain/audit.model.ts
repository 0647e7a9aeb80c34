import { z } from 'zod';

/** One operator action: who did what, to what, when, and how it ended. */
export const auditEntrySchema = z.object({
  id: z.string(),
  entity: z.literal('audit'),
  type: z.literal('audit'),
  at: z.string(),
  /** The signed-in caller (a user's name or an application's client id), or `cli:<user>`. */
  who: z.string(),
  /** What was asked: `POST /api/sync/{entity}`, `person owner`, ... */
  action: z.string(),
  /** What it acted on: an entity, a person id, error ids (bounded). */
  target: z.string(),
  /** The HTTP status, or `ok`/`failed` for the CLI. */
  outcome: z.string(),
  /** A short, secret-free summary of the request. */
  detail: z.string().max(1000).optional(),
  ttl: z.number().int().positive().optional(),
});
export type AuditEntry = z.output<typeof auditEntrySchema>;

/** Audit entries are kept a year. */
export const AUDIT_TTL_SECONDS = 365 * 24 * 3600;
