import { type DataverseError, isDataverseError } from './dataverse.errors';
import type { ApiBudget, BudgetTicket } from './leased.api-budget';

/** Dataverse refuses more than 52 concurrent requests per user; we never go past it. */
export const HARD_CONCURRENCY_CAP = 52;

export type GovernorEvent =
  | { type: 'request'; inFlight: number; attempt: number }
  | { type: 'throttle'; retryAfterMs?: number; pausedUntil: number; limit: number }
  | { type: 'retry'; attempt: number; delayMs: number; code: string }
  | { type: 'give-up'; attempts: number; code: string }
  | { type: 'clamp'; requested: number; applied: number };

export interface GovernorCounters {
  /** Attempts sent (a retried request counts once per attempt). */
  requests: number;
  throttled: number;
  retries: number;
  failures: number;
  inFlight: number;
  maxInFlight: number;
  /** The current admission limit (lower than maxConcurrency while ramping up after a throttle). */
  limit: number;
}

export interface ThrottleGovernorOptions {
  /** Default 8; clamped to 1..52. */
  maxConcurrency?: number;
  /** Total attempts for transient failures (5xx, resets, timeouts, 429 without Retry-After). Default 5. */
  maxAttempts?: number;
  /** How many times one request may be throttled with a Retry-After before giving up. Default 20. */
  maxThrottleRetries?: number;
  /** A Retry-After longer than this is not waited in process: the caller's job is redelivered later. Default 300000. */
  maxRetryAfterMs?: number;
  /** Backoff base and ceiling for exponential backoff with full jitter. Defaults 500 and 30000. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Added to every Retry-After deadline to absorb clock granularity between us and the service. Default 20. */
  retryAfterMarginMs?: number;
  /** After a throttle the limit halves, then grows by one every `rampUpEvery` successes. Default true / 10. */
  rampUp?: boolean;
  rampUpEvery?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
  onEvent?: (event: GovernorEvent) => void;
  warn?: (message: string) => void;
  /**
   * The budget shared with every other process of the same application user: each attempt waits
   * for its ticket after the local admission, and a Retry-After is passed on to the others.
   */
  budget?: ApiBudget;
}

export interface RunOptions {
  /**
   * A non-idempotent request (a POST create) is retried in process only when the service surely
   * did not run it (429, 503, connection refused); otherwise the retryable error goes to the caller.
   */
  idempotent?: boolean;
}

export interface AttemptInfo {
  attempt: number;
  /**
   * Waits out a pause that began after this attempt was admitted. Call it right before the
   * request goes on the wire: work done after admission (getting a token) takes long enough for
   * another request's 429 to arrive meanwhile.
   */
  ready(): Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, Math.max(0, ms));
  });

interface Waiter {
  resolve: () => void;
}

/**
 * Admission control for every Dataverse request: a FIFO concurrency cap, one shared pause when
 * the service throttles (its limits are per user, so one 429 means every caller waits), and
 * bounded retries with backoff for transient failures.
 */
export class ThrottleGovernor {
  readonly maxConcurrency: number;
  private readonly maxAttempts: number;
  private readonly maxThrottleRetries: number;
  private readonly maxRetryAfterMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly retryAfterMarginMs: number;
  private readonly rampUp: boolean;
  private readonly rampUpEvery: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly onEvent: ((event: GovernorEvent) => void) | undefined;
  private readonly budget: ApiBudget | undefined;

  private limit: number;
  private successesSinceGrowth = 0;
  private pausedUntil = 0;
  private readonly queue: Waiter[] = [];
  private readonly stats: GovernorCounters;

  constructor(options: ThrottleGovernorOptions = {}) {
    const requested = options.maxConcurrency ?? 8;
    const applied = Math.min(HARD_CONCURRENCY_CAP, Math.max(1, Math.floor(requested)));
    this.onEvent = options.onEvent;
    if (applied !== requested) {
      const warn = options.warn ?? ((m: string) => console.warn(m));
      warn(
        `ThrottleGovernor: maxConcurrency ${requested} clamped to ${applied} (Dataverse allows at most ${HARD_CONCURRENCY_CAP} concurrent requests per user)`,
      );
      this.onEvent?.({ type: 'clamp', requested, applied });
    }
    this.maxConcurrency = applied;
    this.limit = applied;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.maxThrottleRetries = Math.max(0, options.maxThrottleRetries ?? 20);
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 300_000;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.retryAfterMarginMs = options.retryAfterMarginMs ?? 20;
    this.rampUp = options.rampUp ?? true;
    this.rampUpEvery = Math.max(1, options.rampUpEvery ?? 10);
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.budget = options.budget;
    this.stats = {
      requests: 0,
      throttled: 0,
      retries: 0,
      failures: 0,
      inFlight: 0,
      maxInFlight: 0,
      limit: applied,
    };
  }

  counters(): GovernorCounters {
    return { ...this.stats, limit: this.limit };
  }

  /** The moment (epoch ms of the injected clock) before which no request is sent; 0 when not paused. */
  get pausedUntilMs(): number {
    return this.pausedUntil;
  }

  /**
   * Runs `attempt` under the governor, retrying as the failure warrants. `attempt` must throw a
   * DataverseError for service failures; anything else is treated as a programming error and
   * rethrown at once.
   */
  async run<T>(attempt: (info: AttemptInfo) => Promise<T>, options: RunOptions = {}): Promise<T> {
    const idempotent = options.idempotent ?? true;
    let transientFailures = 0;
    let throttles = 0;
    let attemptNo = 0;
    let priority = false;
    for (;;) {
      attemptNo += 1;
      await this.acquire(priority);
      let result: T;
      let ticket: BudgetTicket | undefined;
      let started = 0;
      try {
        ticket = await this.budget?.admit();
        started = this.now();
        this.stats.requests += 1;
        this.onEvent?.({ type: 'request', inFlight: this.stats.inFlight, attempt: attemptNo });
        result = await attempt({ attempt: attemptNo, ready: () => this.waitWhilePaused() });
      } catch (error) {
        ticket?.done(this.now() - started);
        this.release();
        if (!isDataverseError(error) || !error.retryable) {
          this.stats.failures += 1;
          throw error;
        }
        // Retries go to the front of the queue: they were admitted before the requests now waiting.
        priority = true;
        if (error.code === 'throttled') {
          this.stats.throttled += 1;
          this.slowDown();
          if (error.retryAfterMs !== undefined && error.retryAfterMs > 0) {
            throttles += 1;
            if (throttles > this.maxThrottleRetries || error.retryAfterMs > this.maxRetryAfterMs) {
              throw this.giveUp(error, attemptNo);
            }
            this.pauseUntil(this.now() + error.retryAfterMs + this.retryAfterMarginMs, error.retryAfterMs);
            this.stats.retries += 1;
            this.onEvent?.({
              type: 'retry',
              attempt: attemptNo,
              delayMs: error.retryAfterMs,
              code: error.code,
            });
            continue;
          }
          transientFailures += 1;
          if (transientFailures >= this.maxAttempts) throw this.giveUp(error, attemptNo);
          const delay = this.backoffDelay(transientFailures);
          // No Retry-After: still per-user limits, so everyone backs off together.
          this.pauseUntil(this.now() + delay, undefined);
          this.stats.retries += 1;
          this.onEvent?.({ type: 'retry', attempt: attemptNo, delayMs: delay, code: error.code });
          continue;
        }
        if (!idempotent && !this.surelyNotExecuted(error)) throw this.giveUp(error, attemptNo);
        transientFailures += 1;
        if (transientFailures >= this.maxAttempts) throw this.giveUp(error, attemptNo);
        const delay = this.backoffDelay(transientFailures);
        this.stats.retries += 1;
        this.onEvent?.({ type: 'retry', attempt: attemptNo, delayMs: delay, code: error.code });
        await this.sleep(delay);
        continue;
      }
      ticket?.done(this.now() - started);
      this.release();
      this.grow();
      return result;
    }
  }

  private surelyNotExecuted(error: DataverseError): boolean {
    if (error.status === 503) return true;
    const cause = error.cause as { code?: string } | undefined;
    return error.code === 'network' && cause?.code === 'ECONNREFUSED';
  }

  private giveUp(error: DataverseError, attempts: number): DataverseError {
    this.stats.failures += 1;
    error.attempts = attempts;
    this.onEvent?.({ type: 'give-up', attempts, code: error.code });
    return error;
  }

  /** Full jitter: uniform in [0, min(max, base * 2^(n-1))]. */
  private backoffDelay(failures: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (failures - 1));
    return Math.floor(this.random() * ceiling);
  }

  private pauseUntil(deadline: number, retryAfterMs: number | undefined): void {
    if (deadline > this.pausedUntil) this.pausedUntil = deadline;
    if (retryAfterMs !== undefined) this.budget?.reportPause(deadline);
    this.onEvent?.({
      type: 'throttle',
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      pausedUntil: this.pausedUntil,
      limit: this.limit,
    });
  }

  private slowDown(): void {
    if (!this.rampUp) return;
    this.limit = Math.max(1, Math.ceil(this.limit / 2));
    this.successesSinceGrowth = 0;
  }

  private grow(): void {
    if (this.limit >= this.maxConcurrency) return;
    this.successesSinceGrowth += 1;
    if (this.successesSinceGrowth >= this.rampUpEvery) {
      this.successesSinceGrowth = 0;
      this.limit += 1;
      this.drain();
    }
  }

  private async acquire(priority: boolean): Promise<void> {
    if (this.stats.inFlight < this.limit && this.queue.length === 0) {
      this.take();
    } else {
      await new Promise<void>((resolve) => {
        const waiter: Waiter = { resolve };
        if (priority) this.queue.unshift(waiter);
        else this.queue.push(waiter);
      });
    }
    // Holding the slot while paused keeps FIFO order; nothing is sent during the pause anyway.
    await this.waitWhilePaused();
  }

  private async waitWhilePaused(): Promise<void> {
    for (;;) {
      const wait = Math.max(this.pausedUntil, this.budget?.pausedUntilMs ?? 0) - this.now();
      if (wait <= 0) return;
      await this.sleep(wait);
    }
  }

  private take(): void {
    this.stats.inFlight += 1;
    if (this.stats.inFlight > this.stats.maxInFlight) this.stats.maxInFlight = this.stats.inFlight;
  }

  private release(): void {
    this.stats.inFlight -= 1;
    this.drain();
  }

  private drain(): void {
    while (this.stats.inFlight < this.limit && this.queue.length > 0) {
      const next = this.queue.shift();
      if (!next) break;
      this.take();
      next.resolve();
    }
  }
}
