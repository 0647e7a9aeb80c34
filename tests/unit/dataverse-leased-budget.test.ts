import type { BudgetDocument, BudgetLimits } from '../../shared/dataverse/api-budget.ledger';
import { DataverseError } from '../../shared/dataverse/dataverse.errors';
import {
  type ApiBudget,
  type BudgetLeaseStore,
  LeasedApiBudget,
} from '../../shared/dataverse/leased.api-budget';
import { ThrottleGovernor } from '../../shared/dataverse/throttle.governor';

/** The lease document in memory with an _etag check, as Cosmos keeps it; `failNext` simulates outages. */
class MemoryLeaseStore implements BudgetLeaseStore {
  readonly id = 'api-budget:test';
  private doc: BudgetDocument | undefined;
  private version = 0;
  writes = 0;
  conflicts = 0;
  failNext = 0;
  conflictNext = 0;

  async read(): Promise<BudgetDocument | undefined> {
    await Promise.resolve();
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('store unavailable');
    }
    return this.doc === undefined ? undefined : structuredClone({ ...this.doc, _etag: String(this.version) });
  }

  async write(doc: BudgetDocument, etag: string | undefined): Promise<boolean> {
    await Promise.resolve();
    const current = this.doc === undefined ? undefined : String(this.version);
    if (etag !== current || this.conflictNext > 0) {
      this.conflictNext = Math.max(0, this.conflictNext - 1);
      this.conflicts += 1;
      return false;
    }
    this.writes += 1;
    this.version += 1;
    this.doc = structuredClone(doc);
    return true;
  }

  holders(): string[] {
    return Object.keys(this.doc?.holders ?? {});
  }
}

const limits = (over: Partial<BudgetLimits> = {}): BudgetLimits => ({
  requests: 1000,
  executionMs: 100_000,
  concurrency: 3,
  windowMs: 1000,
  leaseMs: 200,
  skewMs: 5,
  ...over,
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('LeasedApiBudget: slices of one budget leased by several processes', () => {
  const budgets: LeasedApiBudget[] = [];
  const make = (store: BudgetLeaseStore, over: Partial<BudgetLimits> = {}, maxSlots = 8) => {
    const budget = new LeasedApiBudget({ store, limits: limits(over), maxSlots, warn: () => undefined });
    budgets.push(budget);
    return budget;
  };
  afterEach(async () => {
    await Promise.all(budgets.splice(0).map((budget) => budget.close()));
  });

  it('two processes together never hold more requests in flight than the shared concurrency', async () => {
    const store = new MemoryLeaseStore();
    const a = make(store);
    const b = make(store);
    let inFlight = 0;
    let peak = 0;
    const request = async (budget: LeasedApiBudget) => {
      const ticket = await budget.admit();
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await sleep(5);
      inFlight -= 1;
      ticket.done(5);
    };
    await Promise.all([
      ...Array.from({ length: 12 }, () => request(a)),
      ...Array.from({ length: 12 }, () => request(b)),
    ]);
    expect(peak).toBe(3);
    // A batch of tokens per renewal, not a document write per request.
    expect(store.writes).toBeLessThan(24);
  });

  it('stops at the request budget of the window and goes on once the window has moved', async () => {
    const store = new MemoryLeaseStore();
    const budget = make(store, { requests: 5, windowMs: 300, leaseMs: 50 });
    const started = Date.now();
    const admittedAt: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const ticket = await budget.admit();
        admittedAt.push(Date.now() - started);
        ticket.done(1);
      }),
    );
    admittedAt.sort((x, y) => x - y);
    // The first five at once; the rest only after the first grant's bucket retired (3 leases + window).
    expect(admittedAt[4]).toBeLessThan(150);
    expect(admittedAt[5]).toBeGreaterThanOrEqual(400);
  });

  it('a slot held by a process that stopped is free again once its lease expires', async () => {
    const store = new MemoryLeaseStore();
    const stopped = new LeasedApiBudget({ store, limits: limits({ concurrency: 1 }), maxSlots: 1 });
    const ticket = await stopped.admit();
    ticket.done(1);
    // No close(): the process died holding the only slot.
    const other = make(store, { concurrency: 1 });
    const started = Date.now();
    (await other.admit()).done(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('close() gives the slots back at once', async () => {
    const store = new MemoryLeaseStore();
    const budget = make(store);
    (await budget.admit()).done(1);
    expect(store.holders()).toHaveLength(1);
    await budget.close();
    expect(store.holders()).toEqual([]);
  });

  it('retries a write another process won, and works on with one slot while the document cannot be read', async () => {
    const store = new MemoryLeaseStore();
    store.conflictNext = 2;
    const budget = make(store);
    (await budget.admit()).done(1);
    expect(budget.counters()).toMatchObject({ conflicts: 2, renewals: 1 });

    const down = new MemoryLeaseStore();
    down.failNext = 100;
    const warnings: string[] = [];
    const fallback = new LeasedApiBudget({
      store: down,
      limits: limits(),
      maxSlots: 8,
      warn: (message) => warnings.push(message),
    });
    budgets.push(fallback);
    const tickets = [await fallback.admit()];
    expect(fallback.counters().slots).toBe(1);
    tickets.forEach((ticket) => ticket.done(1));
    expect(warnings).toEqual([
      expect.stringMatching(/api-budget:test could not be renewed.*one request at a time/),
    ]);
  });

  it('a pause one process reports reaches the others at their next renewal', async () => {
    const store = new MemoryLeaseStore();
    const a = make(store, { leaseMs: 40 });
    const b = make(store, { leaseMs: 40 });
    (await a.admit()).done(1);
    (await b.admit()).done(1);
    const until = Date.now() + 5000;
    a.reportPause(until);
    for (let i = 0; i < 50 && b.pausedUntilMs < until; i += 1) {
      const ticket = await b.admit();
      ticket.done(1);
      await sleep(10);
    }
    expect(b.pausedUntilMs).toBe(until);
  });
});

describe('ThrottleGovernor with a shared budget', () => {
  /** Records what the governor asks of the budget. */
  const recordingBudget = () => {
    const events: string[] = [];
    const budget: ApiBudget = {
      admit: () => {
        events.push('admit');
        return Promise.resolve({ done: (ms: number) => events.push(`done ${ms >= 0 ? 'ok' : ms}`) });
      },
      reportPause: (until: number) => events.push(`pause ${until}`),
      pausedUntilMs: 0,
      close: () => Promise.resolve(),
    };
    return { budget, events };
  };

  it('takes one ticket per attempt, settles it whatever the outcome, and passes a Retry-After on', async () => {
    const { budget, events } = recordingBudget();
    let now = 1000;
    const governor = new ThrottleGovernor({
      budget,
      now: () => now,
      sleep: (ms) => {
        now += ms;
        return Promise.resolve();
      },
      retryAfterMarginMs: 0,
    });
    let calls = 0;
    const result = await governor.run(async () => {
      calls += 1;
      if (calls === 1) {
        throw new DataverseError('429', {
          code: 'throttled',
          retryable: true,
          status: 429,
          retryAfterMs: 2000,
        });
      }
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(events).toEqual(['admit', 'done ok', 'pause 3000', 'admit', 'done ok']);
  });

  it('waits out a pause another instance reported before sending', async () => {
    const { budget } = recordingBudget();
    let now = 1000;
    const slept: number[] = [];
    const governor = new ThrottleGovernor({
      budget: { ...budget, pausedUntilMs: 4000 },
      now: () => now,
      sleep: (ms) => {
        slept.push(ms);
        now += ms;
        return Promise.resolve();
      },
    });
    await governor.run(() => Promise.resolve('ok'));
    expect(slept).toEqual([3000]);
  });
});
