import { randomUUID } from 'node:crypto';
import {
  decideNotification,
  notifyJobSlots,
  type ExecutionContext,
  type NotificationDecision,
} from '../domain/notification.model';
import type { JobQueue } from '../queue/job-queue.port';
import { pullJobMessageId, pullJobSchema, type PullJob } from '../queue/pull-job.schema';
import type { DataverseIdentity } from './ports';

export interface NotifyDeps {
  identity: DataverseIdentity;
  /** Pins the organisation (DATAVERSE_ORGANIZATION_ID); WhoAmI's answer when undefined. */
  organizationId: string | undefined;
  enabledEntities: readonly string[];
  queue: JobQueue;
  pullQueue: string;
  /** Notifications of one entity within this window become one job. */
  windowMs: number;
  now?: () => Date;
  newId?: () => string;
}

export type NotifyOutcome =
  { status: 'queued'; job: PullJob } | Extract<NotificationDecision, { kind: 'ignore' | 'refuse' }>;

/** WhoAmI is asked again after this long, so a sandbox refresh (new organisation id) is noticed. */
const IDENTITY_TTL_MS = 10 * 60_000;

/**
 * A Dataverse webhook said a row of a table changed: queue a pull of that entity (the delta feed
 * reads what changed, so ordering, filters, deletes, merges and the loop guard stay the pull's).
 * Message ids are the entity and the end of the notification's window: Service Bus duplicate
 * detection keeps one opening job (due at once) and one closing job (due at the window's end, after
 * every notification it stands for has arrived) per entity and window (see notifyJobSlots).
 */
export class NotifyUseCase {
  private identity: { at: number; answer: Promise<{ organizationId: string; userId: string }> } | undefined;
  private readonly sending = new Map<string, Promise<void>>();
  private readonly expiries: { messageId: string; at: number }[] = [];

  constructor(private readonly deps: NotifyDeps) {}

  async handle(context: ExecutionContext): Promise<NotifyOutcome> {
    const now = (this.deps.now ?? (() => new Date()))();
    const me = await this.whoAmI(now);
    const decision = decideNotification(context, {
      organizationId: this.deps.organizationId ?? me.organizationId,
      entities: this.deps.enabledEntities,
      applicationUserId: me.userId,
    });
    if (decision.kind !== 'pull') return decision;
    const jobs = notifyJobSlots(now, this.deps.windowMs).map((at) => ({
      at,
      job: pullJobSchema.parse({
        kind: 'pull',
        entity: decision.entity,
        reason: 'notify',
        correlationId: (this.deps.newId ?? randomUUID)(),
        slot: at.slot.toISOString(),
        requestedAt: now.toISOString(),
        sequence: at.sequence,
      }),
    }));
    // A burst posts hundreds of notifications at once: this process sends each job once and lets the
    // rest wait for that send; Service Bus duplicate detection still folds what other instances send.
    await Promise.all(
      jobs.map(({ at, job }) => {
        const messageId = pullJobMessageId(job);
        let sending = this.sending.get(messageId);
        if (sending === undefined) {
          sending = this.deps.queue.send(this.deps.pullQueue, [
            {
              body: job,
              messageId,
              sessionId: job.entity,
              correlationId: job.correlationId,
              subject: 'pull',
              ...(at.scheduledAt !== undefined ? { scheduledAt: at.scheduledAt } : {}),
            },
          ]);
          this.remember(messageId, sending, at.slot, now);
        }
        return sending;
      }),
    );
    const closing = jobs.find(({ at }) => at.sequence === 0) ?? jobs[0];
    if (closing === undefined) throw new Error('a notification makes at least one job');
    return { status: 'queued', job: closing.job };
  }

  private remember(messageId: string, sending: Promise<void>, slot: Date, now: Date): void {
    this.sending.set(messageId, sending);
    // A failed send is forgotten at once, so the notification's retry sends again.
    sending.catch(() => this.sending.delete(messageId));
    const forgetAt = slot.getTime() + 60_000;
    this.expiries.push({ messageId, at: forgetAt });
    while (this.expiries.length > 0 && (this.expiries[0]?.at ?? 0) < now.getTime()) {
      const old = this.expiries.shift();
      if (old !== undefined) this.sending.delete(old.messageId);
    }
  }

  /** One WhoAmI at a time: a burst at start-up waits for the first answer instead of asking again. */
  private whoAmI(now: Date): Promise<{ organizationId: string; userId: string }> {
    if (this.identity !== undefined && now.getTime() - this.identity.at < IDENTITY_TTL_MS)
      return this.identity.answer;
    const answer = this.deps.identity.whoAmI().then((me) => ({
      organizationId: me.organizationId.toLowerCase(),
      userId: me.userId.toLowerCase(),
    }));
    const entry = { at: now.getTime(), answer };
    this.identity = entry;
    // A failed WhoAmI is asked again by the next notification (Dataverse posts this one again).
    answer.catch(() => {
      if (this.identity === entry) this.identity = undefined;
    });
    return answer;
  }
}
