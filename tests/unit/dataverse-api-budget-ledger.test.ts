import {
  type BudgetDocument,
  type BudgetLimits,
  emptyBudgetDocument,
  type LeaseAsk,
  planLease,
} from '../../shared/dataverse/api-budget.ledger';

const LIMITS: BudgetLimits = {
  requests: 100,
  executionMs: 10_000,
  concurrency: 6,
  windowMs: 1000,
  leaseMs: 100,
  skewMs: 10,
};
const NOW = 50_000;
// Bucket of NOW: floor(50_000 / 100) * 100.
const AT = 50_000;
/** A bucket stops weighing on grants after 3 leases + window + skew = 1310 ms. */
const RETIRE = 3 * LIMITS.leaseMs + LIMITS.windowMs + LIMITS.skewMs;

const ask = (over: Partial<LeaseAsk> = {}): LeaseAsk => ({
  holder: 'me',
  slots: 4,
  inUse: 0,
  requests: 20,
  executionMs: 1000,
  settle: [],
  pausedUntil: 0,
  ...over,
});
const doc = (over: Partial<BudgetDocument> = {}): BudgetDocument => ({
  ...emptyBudgetDocument('api-budget:test'),
  ...over,
});
const holder = (slots: number, want: number, expiresAt = NOW + 50) => ({ slots, want, expiresAt });

describe('planLease: what one renewal is granted from the shared budget', () => {
  it.each([
    {
      case: 'an empty budget grants all that is asked',
      read: doc(),
      ask: ask(),
      grant: { slots: 4, requests: 20, executionMs: 1000 },
    },
    {
      case: 'slots held by others are not granted again',
      read: doc({ holders: { a: holder(5, 5) } }),
      ask: ask(),
      grant: { slots: 1 },
    },
    {
      case: 'a holder that stopped renewing frees its slots once its lease and the skew passed',
      read: doc({ holders: { dead: holder(6, 6, NOW - LIMITS.skewMs - 1) } }),
      ask: ask(),
      grant: { slots: 4 },
    },
    {
      case: 'a holder whose lease has only just run out still counts (clock skew)',
      read: doc({ holders: { late: holder(6, 6, NOW - 1) } }),
      ask: ask(),
      grant: { slots: 0 },
    },
    {
      case: 'with another holder waiting, a renewal keeps only its fair share',
      read: doc({ holders: { waiting: holder(0, 3) } }),
      ask: ask({ slots: 6 }),
      grant: { slots: 3 },
    },
    {
      case: 'without anyone waiting, a holder may take every free slot',
      read: doc({ holders: { idle: holder(0, 0) } }),
      ask: ask({ slots: 6 }),
      grant: { slots: 6 },
    },
    {
      case: 'requests already granted in the window leave only the rest, shared by the demanding holders',
      read: doc({
        holders: { a: holder(1, 1) },
        buckets: [{ at: AT - 500, requests: 90, executionMs: 0 }],
      }),
      ask: ask(),
      grant: { requests: 5 },
    },
    {
      case: 'a bucket stops counting once its last possible window has passed',
      read: doc({ buckets: [{ at: NOW - RETIRE, requests: 100, executionMs: 10_000 }] }),
      ask: ask(),
      grant: { requests: 20, executionMs: 1000 },
    },
    {
      case: 'a bucket still inside that horizon counts in full',
      read: doc({ buckets: [{ at: NOW - RETIRE + 1, requests: 100, executionMs: 10_000 }] }),
      ask: ask(),
      grant: { requests: 0, executionMs: 0, retryAt: NOW + 1 },
    },
    {
      case: 'requests an expired grant did not send go back to its bucket',
      read: doc({ buckets: [{ at: AT - 200, requests: 100, executionMs: 0 }] }),
      ask: ask({ settle: [{ at: AT - 200, requests: -30, executionMs: 0 }] }),
      grant: { requests: 20 },
    },
    {
      case: 'execution time beyond a grant is charged to its bucket',
      read: doc({ buckets: [{ at: AT - 200, requests: 0, executionMs: 9000 }] }),
      ask: ask({ settle: [{ at: AT - 200, requests: 0, executionMs: 500 }] }),
      grant: { executionMs: 500 },
    },
    {
      case: 'a Retry-After reported by one holder is handed to every other',
      read: doc({ pausedUntil: NOW + 700 }),
      ask: ask({ pausedUntil: NOW + 300 }),
      grant: { pausedUntil: NOW + 700 },
    },
  ])('$case', ({ read, ask: request, grant }) => {
    expect(planLease(read, request, NOW, LIMITS).grant).toMatchObject(grant);
  });

  it('charges a grant to the bucket of its lease period and records the holder until expiry', () => {
    const { doc: written, grant } = planLease(doc(), ask(), NOW + 42, LIMITS);
    expect(grant).toMatchObject({ at: AT, expiresAt: NOW + 42 + LIMITS.leaseMs });
    expect(written.buckets).toEqual([{ at: AT, requests: 20, executionMs: 1000 }]);
    expect(written.holders.me).toEqual({ slots: 4, want: 4, expiresAt: NOW + 42 + LIMITS.leaseMs });
  });

  it('requests still in flight keep their slots in the document when the grant shrinks', () => {
    const read = doc({ holders: { me: holder(6, 6), waiting: holder(0, 6) } });
    const { doc: written, grant } = planLease(read, ask({ slots: 6, inUse: 5 }), NOW, LIMITS);
    expect(grant.slots).toBe(3);
    expect(written.holders.me?.slots).toBe(5);
  });

  it('a holder asking for nothing releases its lease', () => {
    const read = doc({ holders: { me: holder(4, 4), other: holder(1, 1) } });
    const { doc: written } = planLease(read, ask({ slots: 0, requests: 0, executionMs: 0 }), NOW, LIMITS);
    expect(Object.keys(written.holders)).toEqual(['other']);
  });

  it('never grants more than the limits however many holders renew in turn', () => {
    let current = doc();
    let slots = 0;
    let requests = 0;
    for (let i = 0; i < 40; i += 1) {
      const { doc: next, grant } = planLease(current, ask({ holder: `h${i}`, slots: 8 }), NOW + i, LIMITS);
      current = next;
      slots += grant.slots;
      requests += grant.requests;
    }
    expect(slots).toBe(LIMITS.concurrency);
    expect(requests).toBe(LIMITS.requests);
  });
});
