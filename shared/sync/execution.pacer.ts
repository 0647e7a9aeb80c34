/**
 * Keeps the parallel reads of one load under a share of Dataverse's execution-time limit (1,200 s
 * of server time per 300 s per user): the service answers with 429s only once the limit is
 * crossed, and by then every caller of that user pauses. Each request's duration as the client
 * sees it stands in for its server time (it can only be more), and a request starts only when the
 * durations of the window, plus what the requests in flight are expected to take, leave room for it.
 */
export interface ExecutionBudget {
  /** Server time allowed per window, in ms (e.g. 900,000: three quarters of the limit). */
  budgetMs: number;
  windowMs: number;
}

/** Three quarters of the limit: the rest stays for the other entities, the push and operators. */
export const DEFAULT_EXECUTION_BUDGET: ExecutionBudget = { budgetMs: 900_000, windowMs: 300_000 };

export class ExecutionPacer {
  private readonly spans: { at: number; ms: number }[] = [];
  private sum = 0;
  private inFlight = 0;
  private expectedMs = 0;
  /** Time spent waiting for room, for the benchmark's figures. */
  waitedMs = 0;

  constructor(
    private readonly budget: ExecutionBudget,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  /** Runs one request once the window has room for it, and books its duration. */
  async run<T>(request: () => Promise<T>): Promise<T> {
    for (;;) {
      const wait = this.waitFor();
      if (wait <= 0) break;
      this.waitedMs += wait;
      await this.sleep(wait);
    }
    const expected = this.expectedMs;
    this.inFlight += expected;
    const started = this.now();
    try {
      return await request();
    } finally {
      const ms = this.now() - started;
      this.inFlight -= expected;
      this.spans.push({ at: this.now(), ms });
      this.sum += ms;
      // A running average: the next request is expected to cost about what the last ones did.
      this.expectedMs = this.expectedMs === 0 ? ms : this.expectedMs * 0.8 + ms * 0.2;
    }
  }

  /** Milliseconds until a request may start (0: now). */
  waitFor(): number {
    const now = this.now();
    this.prune(now);
    let room = this.budget.budgetMs - this.sum - this.inFlight - this.expectedMs;
    if (room >= 0) return 0;
    // Wait until enough of the oldest durations leave the window.
    for (const span of this.spans) {
      room += span.ms;
      if (room >= 0) return Math.max(1, span.at + this.budget.windowMs - now);
    }
    // Requests in flight alone fill the budget: look again shortly.
    return Math.max(1, Math.min(this.expectedMs, 1000));
  }

  private prune(now: number): void {
    while (this.spans.length > 0 && (this.spans[0] as { at: number }).at <= now - this.budget.windowMs) {
      this.sum -= (this.spans.shift() as { ms: number }).ms;
    }
  }
}
