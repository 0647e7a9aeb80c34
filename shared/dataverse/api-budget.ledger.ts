import { z } from 'zod';

/**
 * The shared Dataverse budget of one application user, as one small document every instance leases
 * from (see docs/api-budget.md). Pure: the caller reads the document, plans, and writes it back
 * guarded by its _etag, so two instances can never both spend the same share.
 */

export const budgetLimitsSchema = z.object({
  /** Requests per sliding window (Dataverse: 6,000 per 300 s). */
  requests: z.number().int().positive(),
  /** Execution time per sliding window (Dataverse: 1,200 s per 300 s). */
  executionMs: z.number().positive(),
  /** Requests in flight at once (Dataverse: 52). */
  concurrency: z.number().int().min(1).max(52),
  windowMs: z.number().positive(),
  /** How long a grant of slots and tokens stays usable; holders renew at half of it. */
  leaseMs: z.number().positive(),
  /** Clock difference tolerated between instances and the service. */
  skewMs: z.number().min(0),
});
export type BudgetLimits = z.infer<typeof budgetLimitsSchema>;

const holderSchema = z.object({
  slots: z.number().int().min(0),
  /** Slots the holder asked for: more than it holds means it is waiting for a fair share. */
  want: z.number().int().min(0),
  expiresAt: z.number(),
});

const bucketSchema = z.object({
  /** Start of the lease period whose grants this bucket sums. */
  at: z.number(),
  requests: z.number().min(0),
  executionMs: z.number().min(0),
});
export type BudgetBucket = z.infer<typeof bucketSchema>;

export const BUDGET_PARTITION = 'api-budget';

export const budgetDocumentSchema = z.object({
  id: z.string().min(1),
  entity: z.literal(BUDGET_PARTITION),
  holders: z.record(z.string(), holderSchema),
  buckets: z.array(bucketSchema),
  /** A Retry-After one instance got: every instance waits it out (the limits are per user). */
  pausedUntil: z.number().default(0),
  _etag: z.string().optional(),
});
export type BudgetDocument = z.infer<typeof budgetDocumentSchema>;

/** What expired grants really used: requests never sent go back, execution beyond the grant is charged. */
export interface BudgetSettlement {
  at: number;
  requests: number;
  executionMs: number;
}

export interface LeaseAsk {
  holder: string;
  /** Slots wanted until the next renewal; 0 with no tokens asked releases the holder's lease. */
  slots: number;
  /**
   * Requests the holder has in flight: they keep their slots in the document whatever the new
   * grant, or another holder could be granted them while they still run.
   */
  inUse: number;
  requests: number;
  executionMs: number;
  settle: readonly BudgetSettlement[];
  pausedUntil: number;
}

export interface LeaseGrant {
  slots: number;
  requests: number;
  executionMs: number;
  /** The bucket the grant was charged to, for its settlement. */
  at: number;
  expiresAt: number;
  pausedUntil: number;
  /** When an ask that got nothing can hope for more: the oldest spending leaves the window. */
  retryAt: number;
}

export const emptyBudgetDocument = (id: string): BudgetDocument => ({
  id,
  entity: BUDGET_PARTITION,
  holders: {},
  buckets: [],
  pausedUntil: 0,
});

/**
 * A grant made in a bucket's period is sent by the end of the next period, and the service counts a
 * request's execution time when it ends, up to one more lease later for a slow request. A window
 * (t - W, t] can see that spending until start + 3 leases + W: only then may the bucket stop weighing
 * on new grants. The clock skew between instances and the service is added on top.
 */
const bucketRetiresAt = (bucket: BudgetBucket, limits: BudgetLimits): number =>
  bucket.at + 3 * limits.leaseMs + limits.windowMs + limits.skewMs;

const bucketStart = (now: number, limits: BudgetLimits): number =>
  Math.floor(now / limits.leaseMs) * limits.leaseMs;

/** Plans one holder's renewal against the document read; returns the document to write back. */
export function planLease(
  read: BudgetDocument,
  ask: LeaseAsk,
  now: number,
  limits: BudgetLimits,
): { doc: BudgetDocument; grant: LeaseGrant } {
  // A holder that stopped renewing (a stopped or crashed instance) frees its slots after expiry.
  const holders = Object.fromEntries(
    Object.entries(read.holders).filter(
      ([id, holder]) => id !== ask.holder && holder.expiresAt + limits.skewMs > now,
    ),
  );
  const buckets = read.buckets
    .filter((bucket) => bucketRetiresAt(bucket, limits) > now)
    .map((bucket) => ({ ...bucket }));
  for (const settlement of ask.settle) {
    const bucket = buckets.find((b) => b.at === settlement.at);
    if (bucket === undefined) continue;
    bucket.requests = Math.max(0, bucket.requests + settlement.requests);
    bucket.executionMs = Math.max(0, bucket.executionMs + settlement.executionMs);
  }
  const pausedUntil = Math.max(read.pausedUntil, ask.pausedUntil);
  const others = Object.values(holders);
  const demanding = others.filter((holder) => holder.want > 0).length + (ask.slots > 0 ? 1 : 0);
  const fairSlots = Math.max(1, Math.floor(limits.concurrency / Math.max(1, demanding)));
  const freeSlots = limits.concurrency - others.reduce((sum, holder) => sum + holder.slots, 0);
  // Holders above their fair share keep what they hold only while nobody else waits for a slot.
  const waiting = others.some((holder) => holder.want > holder.slots);
  const slots = Math.max(0, Math.min(ask.slots, freeSlots, waiting ? fairSlots : ask.slots));

  const usedRequests = buckets.reduce((sum, bucket) => sum + bucket.requests, 0);
  const usedExecution = buckets.reduce((sum, bucket) => sum + bucket.executionMs, 0);
  const share = (available: number) => Math.max(0, Math.ceil(available / Math.max(1, demanding)));
  const requests = Math.max(
    0,
    Math.min(ask.requests, limits.requests - usedRequests, share(limits.requests - usedRequests)),
  );
  const executionMs = Math.max(
    0,
    Math.min(ask.executionMs, limits.executionMs - usedExecution, share(limits.executionMs - usedExecution)),
  );

  const at = bucketStart(now, limits);
  if (requests > 0 || executionMs > 0) {
    const bucket = buckets.find((b) => b.at === at);
    if (bucket === undefined) buckets.push({ at, requests, executionMs });
    else {
      bucket.requests += requests;
      bucket.executionMs += executionMs;
    }
  }
  const expiresAt = now + limits.leaseMs;
  const released = ask.slots === 0 && ask.requests === 0 && ask.executionMs === 0 && ask.inUse === 0;
  const nextHolders = released
    ? holders
    : { ...holders, [ask.holder]: { slots: Math.max(slots, ask.inUse), want: ask.slots, expiresAt } };

  const starvedOf = (exhausted: boolean, spent: (bucket: BudgetBucket) => number): number => {
    if (!exhausted) return now;
    const oldest = buckets.filter((bucket) => spent(bucket) > 0).sort((a, b) => a.at - b.at)[0];
    return oldest === undefined ? now : bucketRetiresAt(oldest, limits);
  };
  const retryAt = Math.max(
    starvedOf(ask.requests > 0 && requests === 0, (bucket) => bucket.requests),
    starvedOf(ask.executionMs > 0 && executionMs === 0, (bucket) => bucket.executionMs),
  );

  return {
    doc: {
      id: read.id,
      entity: BUDGET_PARTITION,
      holders: nextHolders,
      buckets: buckets.sort((a, b) => a.at - b.at),
      pausedUntil,
    },
    grant: { slots, requests, executionMs, at, expiresAt, pausedUntil, retryAt },
  };
}
