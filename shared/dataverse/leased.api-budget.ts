import { randomUUID } from 'node:crypto';
import { describeError } from '../errors/app.errors';
import {
  type BudgetDocument,
  type BudgetLimits,
  type BudgetSettlement,
  emptyBudgetDocument,
  type LeaseAsk,
  type LeaseGrant,
  planLease,
} from './api-budget.ledger';

/** One admitted request: settle it with the time it took, whatever its outcome. */
export interface BudgetTicket {
  done(executionMs: number): void;
}

/**
 * Admission to the Dataverse budget every caller of one application user shares. The governor asks
 * for a ticket before each attempt and tells it when the service throttled anyway.
 */
export interface ApiBudget {
  admit(): Promise<BudgetTicket>;
  /** A Retry-After deadline this process got: the other instances wait it out too. */
  reportPause(untilMs: number): void;
  /** The latest pause any instance reported (epoch ms; 0 when none). */
  readonly pausedUntilMs: number;
  close(): Promise<void>;
}

/** The lease document's storage: an _etag-guarded read and write (Cosmos in the app). */
export interface BudgetLeaseStore {
  readonly id: string;
  read(): Promise<BudgetDocument | undefined>;
  /** False when another instance wrote the document since it was read (or created it first). */
  write(doc: BudgetDocument, etag: string | undefined): Promise<boolean>;
}

export interface BudgetCounters {
  renewals: number;
  conflicts: number;
  storeFailures: number;
  admitted: number;
  waited: number;
  slots: number;
}

export interface LeasedApiBudgetOptions {
  store: BudgetLeaseStore;
  limits: BudgetLimits;
  /** This process's own cap (DATAVERSE_MAX_CONCURRENCY): it never asks for more slots. */
  maxSlots: number;
  holder?: string;
  now?: () => number;
  warn?: (message: string) => void;
}

interface Grant {
  at: number;
  expiresAt: number;
  requests: number;
  usedRequests: number;
  executionMs: number;
  usedExecutionMs: number;
  reservedExecutionMs: number;
  inFlight: number;
}

const MAX_CONFLICT_RETRIES = 8;

/**
 * Leases slices of the shared budget: slots, requests and execution time for one lease period,
 * renewed at half of it while the process has work, so the common path costs no Cosmos request.
 * Grants are charged to the document when made; what an expired grant did not use is given back at
 * the next renewal, and execution time beyond it is charged then.
 */
export class LeasedApiBudget implements ApiBudget {
  readonly holder: string;
  private readonly store: BudgetLeaseStore;
  private readonly limits: BudgetLimits;
  private readonly maxSlots: number;
  private readonly now: () => number;
  private readonly warn: (message: string) => void;

  private slots = 0;
  private slotsExpireAt = 0;
  private grants: Grant[] = [];
  private pendingSettlements: BudgetSettlement[] = [];
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private sharedPause = 0;
  private reportedPause = 0;
  private renewing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextRenewalAt = 0;
  private notBefore = 0;
  private closed = false;
  private warnedFallback = false;
  /** Demand seen since the last renewal: what the next one asks for. */
  private peakDemand = 0;
  private admittedSinceRenewal = 0;
  private executionSinceRenewal = 0;
  private lastRenewalAt = 0;
  /** Moving average of one request's execution time, reserved at admission. */
  private executionEstimateMs = 0;
  private readonly stats: BudgetCounters = {
    renewals: 0,
    conflicts: 0,
    storeFailures: 0,
    admitted: 0,
    waited: 0,
    slots: 0,
  };

  constructor(options: LeasedApiBudgetOptions) {
    this.store = options.store;
    this.limits = options.limits;
    this.maxSlots = Math.max(1, Math.min(options.maxSlots, options.limits.concurrency));
    this.holder = options.holder ?? randomUUID();
    this.now = options.now ?? Date.now;
    this.warn = options.warn ?? ((message) => console.warn(message));
  }

  get pausedUntilMs(): number {
    return Math.max(this.sharedPause, this.reportedPause);
  }

  counters(): BudgetCounters {
    return { ...this.stats, slots: this.slots };
  }

  reportPause(untilMs: number): void {
    if (untilMs <= this.reportedPause) return;
    this.reportedPause = untilMs;
    this.scheduleRenewal(0);
  }

  async admit(): Promise<BudgetTicket> {
    if (this.closed) throw new Error('The Dataverse budget was closed: no request can be admitted');
    this.peakDemand = Math.max(this.peakDemand, this.inFlight + this.waiters.length + 1);
    let ticket = this.tryAdmit();
    if (ticket !== undefined) return ticket;
    this.stats.waited += 1;
    for (;;) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        this.scheduleRenewal(0);
        this.timer?.ref?.();
      });
      ticket = this.tryAdmit();
      if (ticket !== undefined) return ticket;
    }
  }

  private tryAdmit(): BudgetTicket | undefined {
    const now = this.now();
    if (this.inFlight >= this.slots || now >= this.slotsExpireAt) return undefined;
    const estimate = this.executionEstimateMs;
    const valid = this.grants.filter((g) => g.expiresAt > now);
    const granted = valid.reduce((sum, g) => sum + g.executionMs, 0);
    const execution = valid.reduce(
      (sum, g) => sum + g.executionMs - g.usedExecutionMs - g.reservedExecutionMs,
      0,
    );
    if (execution <= Math.min(estimate, granted / 2)) return undefined;
    // The grant that expires first is spent first, so fewer tokens expire unused.
    const grant = valid.find((g) => g.usedRequests < g.requests);
    if (grant === undefined) return undefined;
    grant.usedRequests += 1;
    grant.inFlight += 1;
    grant.reservedExecutionMs += estimate;
    this.inFlight += 1;
    this.stats.admitted += 1;
    this.admittedSinceRenewal += 1;
    if (this.remainingRequests(now) <= Math.ceil(this.admittedSinceRenewal / 2)) this.scheduleRenewal(0);
    let settled = false;
    return {
      done: (executionMs: number) => {
        if (settled) return;
        settled = true;
        const spent = Math.max(0, executionMs);
        grant.inFlight -= 1;
        grant.reservedExecutionMs -= estimate;
        grant.usedExecutionMs += spent;
        this.executionSinceRenewal += spent;
        this.executionEstimateMs =
          this.executionEstimateMs === 0 ? spent : this.executionEstimateMs * 0.8 + spent * 0.2;
        this.inFlight -= 1;
        this.wake();
      },
    };
  }

  private remainingRequests(now: number): number {
    return this.grants
      .filter((g) => g.expiresAt > now)
      .reduce((sum, g) => sum + g.requests - g.usedRequests, 0);
  }

  private wake(): void {
    // Every waiter re-checks: a finished request frees a slot, a renewal may bring many tokens.
    const waiting = this.waiters.splice(0, this.waiters.length);
    for (const resolve of waiting) resolve();
  }

  private scheduleRenewal(delayMs: number): void {
    if (this.closed) return;
    // Waiters ask for a renewal on every wake-up: never more often than the back-off allows.
    const at = Math.max(this.now() + Math.max(0, delayMs), this.notBefore);
    delayMs = at - this.now();
    if (this.timer !== undefined && this.nextRenewalAt <= at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.nextRenewalAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.renew();
      },
      Math.max(0, delayMs),
    );
    // An idle process may exit with a lease still held (it expires on its own); one with requests
    // waiting for the renewal must not.
    if (this.waiters.length === 0) this.timer.unref?.();
  }

  private renew(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private ask(now: number): LeaseAsk {
    // Expired grants are settled once nothing sent under them is still running.
    const finished = this.grants.filter((g) => g.expiresAt <= now && g.inFlight === 0);
    this.grants = this.grants.filter((g) => !finished.includes(g));
    // Fallback grants were never charged to the document, so there is nothing to settle.
    for (const g of finished.filter((grant) => Number.isFinite(grant.at))) {
      this.pendingSettlements.push({
        at: g.at,
        requests: g.usedRequests - g.requests,
        executionMs: g.usedExecutionMs - g.executionMs,
      });
    }
    const demand = Math.max(this.peakDemand, this.inFlight + this.waiters.length);
    const active = demand > 0 || this.waiters.length > 0;
    const elapsed = Math.max(1, now - this.lastRenewalAt);
    const period = this.limits.leaseMs;
    // Enough for one lease period at the recent rate, half again for growth, and a floor so a
    // starting burst is not throttled by its own renewals.
    const floorRequests = Math.max(1, Math.floor((this.limits.requests * period) / this.limits.windowMs / 4));
    const floorExecution = (this.limits.executionMs * period) / this.limits.windowMs / 4;
    const rate = (spent: number) => Math.ceil(((spent * period) / elapsed) * 1.5);
    const valid = this.grants.filter((g) => g.expiresAt > now + period / 2);
    const heldRequests = valid.reduce((sum, g) => sum + g.requests - g.usedRequests, 0);
    const heldExecution = valid.reduce(
      (sum, g) => sum + g.executionMs - g.usedExecutionMs - g.reservedExecutionMs,
      0,
    );
    const wantRequests = active
      ? Math.max(
          0,
          Math.max(floorRequests, rate(this.admittedSinceRenewal), this.waiters.length) - heldRequests,
        )
      : 0;
    const wantExecution = active
      ? Math.max(0, Math.max(floorExecution, rate(this.executionSinceRenewal)) - heldExecution)
      : 0;
    return {
      holder: this.holder,
      slots: active ? Math.min(this.maxSlots, Math.max(1, demand)) : 0,
      // Requests go on starting under the current slots until the renewal lands, and those running
      // keep theirs after it: the document must count both, so a grant shrinks one renewal later.
      inUse: Math.max(this.inFlight, now < this.slotsExpireAt ? this.slots : 0),
      requests: wantRequests,
      executionMs: wantExecution,
      settle: [...this.pendingSettlements],
      pausedUntil: this.reportedPause,
    };
  }

  private async renewOnce(): Promise<void> {
    const now = this.now();
    const ask = this.ask(now);
    let grant: LeaseGrant | undefined;
    try {
      for (let attempt = 0; grant === undefined; attempt += 1) {
        const started = this.now();
        const read = (await this.store.read()) ?? emptyBudgetDocument(this.store.id);
        const planned = planLease(read, ask, this.now(), this.limits);
        if (await this.store.write(planned.doc, read._etag)) {
          grant = planned.grant;
          break;
        }
        this.stats.conflicts += 1;
        if (attempt >= MAX_CONFLICT_RETRIES) {
          // Busy, not broken: keep what is held (settlements stay pending) and come back soon.
          this.scheduleRenewal(this.limits.leaseMs / 8);
          return;
        }
        // Jitter in the order of one round trip spreads the instances that collided.
        const roundTrip = Math.max(1, this.now() - started);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * roundTrip * (attempt + 1)));
      }
    } catch (error) {
      this.stats.storeFailures += 1;
      this.fallback(now, error);
      return;
    }
    this.stats.renewals += 1;
    this.pendingSettlements = [];
    this.applyGrant(grant, ask);
  }

  private applyGrant(grant: LeaseGrant, ask: LeaseAsk): void {
    const now = this.now();
    this.slots = grant.slots;
    this.slotsExpireAt = grant.expiresAt;
    this.sharedPause = Math.max(this.sharedPause, grant.pausedUntil);
    if (grant.requests > 0 || grant.executionMs > 0) {
      this.grants.push({
        at: grant.at,
        expiresAt: grant.expiresAt,
        requests: grant.requests,
        usedRequests: 0,
        executionMs: grant.executionMs,
        usedExecutionMs: 0,
        reservedExecutionMs: 0,
        inFlight: 0,
      });
    }
    this.lastRenewalAt = now;
    this.peakDemand = this.inFlight + this.waiters.length;
    this.admittedSinceRenewal = 0;
    this.executionSinceRenewal = 0;
    this.wake();
    const holding = this.slots > 0 || this.grants.length > 0 || this.pendingSettlements.length > 0;
    // The document still counts the slots this renewal gave up (see inUse): one more renewal frees them.
    if (!holding && ask.slots === 0 && ask.inUse === 0) return;
    const half = this.limits.leaseMs / 2;
    // Nothing granted while work waits: come back when the spending that fills the window retires.
    const starved = this.waiters.length > 0 && (grant.slots === 0 || this.remainingRequests(now) === 0);
    const delay = starved ? Math.max(this.limits.leaseMs / 8, Math.min(half, grant.retryAt - now)) : half;
    this.notBefore = now + (starved ? delay : this.limits.leaseMs / 8);
    this.scheduleRenewal(delay);
  }

  /**
   * Without the document (Cosmos unreachable) the process goes on with one slot and a small share
   * of the rate, and keeps trying to renew: the 429 reaction still guards the service meanwhile.
   */
  private fallback(now: number, error: unknown): void {
    if (!this.warnedFallback) {
      this.warnedFallback = true;
      this.warn(
        `Dataverse budget: the lease document ${this.store.id} could not be renewed (${describeError(error)}); going on with one request at a time until it can`,
      );
    }
    const period = this.limits.leaseMs;
    this.slots = Math.min(1, this.maxSlots);
    this.slotsExpireAt = now + period;
    this.grants.push({
      at: Number.NaN,
      expiresAt: now + period,
      requests: Math.max(1, Math.floor((this.limits.requests * period) / this.limits.windowMs / 8)),
      usedRequests: 0,
      executionMs: (this.limits.executionMs * period) / this.limits.windowMs / 8,
      usedExecutionMs: 0,
      reservedExecutionMs: 0,
      inFlight: 0,
    });
    this.wake();
    this.notBefore = now + period / 4;
    this.scheduleRenewal(period / 2);
  }

  /** Gives the slots back and settles what can be settled, so other instances need not wait for expiry. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.renewing;
    this.closed = true;
    if (this.slots === 0 && this.grants.length === 0 && this.pendingSettlements.length === 0) return;
    this.peakDemand = 0;
    const ask = this.ask(this.now());
    try {
      const read = (await this.store.read()) ?? emptyBudgetDocument(this.store.id);
      const planned = planLease(
        read,
        { ...ask, slots: 0, inUse: this.inFlight, requests: 0, executionMs: 0 },
        this.now(),
        this.limits,
      );
      await this.store.write(planned.doc, read._etag);
    } catch {
      // The lease expires by itself.
    }
    this.slots = 0;
  }
}
