import { z } from 'zod';

const guid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID')
  .transform((id) => id.toLowerCase());

/**
 * The part of Dataverse's RemoteExecutionContext JSON (what a webhook step posts) the sync reads.
 * Dataverse adds properties over time and leaves the large ones out of payloads over 256 KB, so
 * unknown properties are allowed and only what decides the outcome is required.
 */
export const executionContextSchema = z.looseObject({
  MessageName: z.string().min(1).max(100),
  PrimaryEntityName: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, 'must be a table logical name')
    .max(64),
  PrimaryEntityId: guid,
  OrganizationId: guid,
  InitiatingUserId: guid,
  UserId: guid.optional(),
  /** 1 for a change a caller made; more for one a plug-in or workflow made in response. */
  Depth: z.number().int().min(1).max(64),
  Mode: z.number().int().min(0).max(1).optional(),
  Stage: z.number().int().optional(),
  CorrelationId: guid.optional(),
  OperationCreatedOn: z.string().max(64).optional(),
});
export type ExecutionContext = z.output<typeof executionContextSchema>;

export interface NotificationScope {
  /** The organisation this deployment syncs (setting, or WhoAmI). */
  organizationId: string;
  /** Entities synced here. */
  entities: readonly string[];
  /** The sync's own application user in Dataverse (WhoAmI). */
  applicationUserId: string;
}

export type NotificationDecision =
  | { kind: 'pull'; entity: string }
  | { kind: 'ignore'; reason: 'own_change' }
  | { kind: 'refuse'; code: 'wrong_organization' | 'table_not_synced'; message: string };

/**
 * What a notification starts. The notification only says "this table changed": the pull reads what
 * changed through change tracking, so nothing in it is trusted beyond the table it names.
 *
 * A change the sync's own application user made directly (Depth 1) is its push coming back: the
 * pull would find it already agreed and write nothing, so it is skipped to save the pull. That is
 * an optimisation only; a plug-in's follow-up change (Depth above 1) still starts a pull.
 */
export function decideNotification(
  context: ExecutionContext,
  scope: NotificationScope,
): NotificationDecision {
  if (context.OrganizationId !== scope.organizationId.toLowerCase()) {
    return {
      kind: 'refuse',
      code: 'wrong_organization',
      message: `the notification comes from organisation ${context.OrganizationId}, not the one this sync reads (${scope.organizationId}); a sandbox copied from production keeps its webhook steps: run \`dynamics-sync realtime disable\` against the copy`,
    };
  }
  if (!scope.entities.includes(context.PrimaryEntityName)) {
    return {
      kind: 'refuse',
      code: 'table_not_synced',
      message: `table "${context.PrimaryEntityName}" is not synced here (${scope.entities.join(', ')}); run \`dynamics-sync realtime enable\` to bring the registered steps in line`,
    };
  }
  if (context.Depth === 1 && context.InitiatingUserId === scope.applicationUserId.toLowerCase()) {
    return { kind: 'ignore', reason: 'own_change' };
  }
  return { kind: 'pull', entity: context.PrimaryEntityName };
}

/**
 * The end of the window a notification falls in. Notifications of one entity in one window share a
 * message id, so Service Bus keeps one job; that job is scheduled for the window's end, after every
 * notification it stands for has arrived, so none of their changes can be behind its read.
 */
export function windowEnd(at: Date, windowMs: number): Date {
  if (windowMs <= 0) return at;
  return new Date(Math.ceil(at.getTime() / windowMs) * windowMs);
}

export interface NotifyJobSlot {
  /** The window's end: part of the message id, so the window's notifications share it. */
  slot: Date;
  /** 0 the window's closing job, 1 its opening job. */
  sequence: number;
  /** Undefined: due at once. */
  scheduledAt?: Date;
}

/**
 * The jobs one window of notifications of an entity makes, each sent once whatever the number of
 * notifications: an opening job due at once, so the first change of a window is read without waiting
 * for its end, and a closing job due at the window's end, which starts after every notification of the
 * window arrived and so reads every change they stand for. With no window each notification is its own.
 */
export function notifyJobSlots(at: Date, windowMs: number): NotifyJobSlot[] {
  const slot = windowEnd(at, windowMs);
  if (slot.getTime() <= at.getTime()) return [{ slot, sequence: 0 }];
  return [
    { slot, sequence: 1 },
    { slot, sequence: 0, scheduledAt: slot },
  ];
}
