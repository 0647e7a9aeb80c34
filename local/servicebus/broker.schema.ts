import { z } from 'zod';

export const queueDefinitionSchema = z.object({
  name: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'queue names are letters, digits, . _ -'),
  requiresSession: z.boolean().default(false),
  maxDeliveryCount: z.number().int().min(1).default(10),
  lockDurationMs: z.number().int().min(50).default(30_000),
  duplicateDetectionWindowMs: z.number().int().min(1).optional(),
  defaultMessageTtlMs: z.number().int().min(1).optional(),
  deadLetteringOnMessageExpiration: z.boolean().default(false),
});
export type QueueDefinitionInput = z.input<typeof queueDefinitionSchema>;
export type QueueDefinition = z.output<typeof queueDefinitionSchema>;

export interface BrokerClock {
  now(): number;
}

export const brokerOptionsSchema = z.object({
  port: z.number().int().min(0).max(65_535).default(0),
  host: z.string().default('127.0.0.1'),
  queues: z.array(queueDefinitionSchema).default([]),
  /** Longest time a next-available-session attach is held open when the client asks for more. */
  maxSessionWaitMs: z.number().int().min(0).default(65_000),
  /**
   * Fault injection: answer a receiver's drain request this late, as over a slow network. Messages
   * sent meanwhile are still delivered on the link's credit; the SDK closes a link whose drain is
   * not answered within 200 ms.
   */
  drainReplyDelayMs: z.number().int().min(0).default(0),
  clock: z.custom<BrokerClock>((v) => typeof (v as BrokerClock | undefined)?.now === 'function').optional(),
});
export type BrokerOptionsInput = z.input<typeof brokerOptionsSchema>;
export type BrokerOptions = z.output<typeof brokerOptionsSchema>;
