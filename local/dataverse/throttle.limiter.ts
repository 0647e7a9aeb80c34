import type { SimulatorLimits } from './simulator.options';
import { DataverseSimulatorError, errors } from './simulator.errors';

// Service protection limits per client (the real service counts per user per web server): a
// sliding window of request count and of execution time, plus concurrent requests. A client that
// comes back before its Retry-After has elapsed is counted as a violation and its wait doubles;
// requests that arrive within a few milliseconds of the 429 were sent before the client could see it.

interface ClientWindow {
  requests: number[];
  head: number;
  exec: { at: number; ms: number }[];
  execHead: number;
  execSum: number;
  inFlight: number;
  penaltyUntil: number;
  /** When the current penalty's first 429 was issued. */
  penaltyIssuedAt: number;
  retryAfter: number;
  lastError: 'requests' | 'execution' | 'concurrency';
}

export type Admission =
  | { ok: true; release: (executionMs: number) => void }
  | { ok: false; error: DataverseSimulatorError; violation: boolean };

export class ThrottleLimiter {
  private readonly clients = new Map<string, ClientWindow>();

  constructor(
    private limits: SimulatorLimits,
    private readonly now: () => number,
  ) {}

  setLimits(limits: SimulatorLimits): void {
    this.limits = limits;
  }

  getLimits(): SimulatorLimits {
    return this.limits;
  }

  reset(): void {
    this.clients.clear();
  }

  private window(clientId: string): ClientWindow {
    let w = this.clients.get(clientId);
    if (!w) {
      w = {
        requests: [],
        head: 0,
        exec: [],
        execHead: 0,
        execSum: 0,
        inFlight: 0,
        penaltyUntil: 0,
        penaltyIssuedAt: 0,
        retryAfter: this.limits.retryAfterSeconds,
        lastError: 'requests',
      };
      this.clients.set(clientId, w);
    }
    return w;
  }

  private prune(w: ClientWindow, t: number): void {
    const cutoff = t - this.limits.windowSeconds * 1000;
    while (w.head < w.requests.length && (w.requests[w.head] as number) <= cutoff) w.head++;
    if (w.head > 4096 && w.head * 2 > w.requests.length) {
      w.requests = w.requests.slice(w.head);
      w.head = 0;
    }
    while (w.execHead < w.exec.length && (w.exec[w.execHead] as { at: number }).at <= cutoff) {
      w.execSum -= (w.exec[w.execHead] as { ms: number }).ms;
      w.execHead++;
    }
    if (w.execHead > 4096 && w.execHead * 2 > w.exec.length) {
      w.exec = w.exec.slice(w.execHead);
      w.execHead = 0;
    }
  }

  private error(kind: ClientWindow['lastError'], retryAfter: number): DataverseSimulatorError {
    const l = this.limits;
    const e =
      kind === 'requests'
        ? errors.requestLimit(l.requestsPerWindow, l.windowSeconds)
        : kind === 'execution'
          ? errors.executionLimit(l.executionMsPerWindow, l.windowSeconds)
          : errors.concurrencyLimit(l.concurrentRequests);
    e.headers['Retry-After'] = String(retryAfter);
    return e;
  }

  /** Remaining requests in the window (for the debug header). */
  remaining(clientId: string): number {
    const w = this.window(clientId);
    return Math.max(0, this.limits.requestsPerWindow - (w.requests.length - w.head));
  }

  admit(clientId: string): Admission {
    const t = this.now();
    const w = this.window(clientId);
    const l = this.limits;
    if (t < w.penaltyUntil) {
      if (t < w.penaltyIssuedAt + l.violationGraceMs) {
        const remaining = Math.max(1, Math.ceil((w.penaltyUntil - t) / 1000));
        return { ok: false, error: this.error(w.lastError, remaining), violation: false };
      }
      w.retryAfter = Math.min(l.maxRetryAfterSeconds, w.retryAfter * 2);
      w.penaltyUntil = t + w.retryAfter * 1000;
      return { ok: false, error: this.error(w.lastError, w.retryAfter), violation: true };
    }
    this.prune(w, t);
    let kind: ClientWindow['lastError'] | undefined;
    let retryAfter = l.retryAfterSeconds;
    if (w.inFlight >= l.concurrentRequests) kind = 'concurrency';
    else if (w.requests.length - w.head >= l.requestsPerWindow) {
      kind = 'requests';
      const oldest = w.requests[w.head] as number;
      retryAfter = Math.max(l.retryAfterSeconds, Math.ceil((oldest + l.windowSeconds * 1000 - t) / 1000));
    } else if (w.execSum >= l.executionMsPerWindow) kind = 'execution';
    if (kind) {
      w.lastError = kind;
      w.retryAfter = Math.min(l.maxRetryAfterSeconds, retryAfter);
      w.penaltyUntil = t + w.retryAfter * 1000;
      w.penaltyIssuedAt = t;
      return { ok: false, error: this.error(kind, w.retryAfter), violation: false };
    }
    w.retryAfter = l.retryAfterSeconds;
    w.requests.push(t);
    w.inFlight++;
    let released = false;
    return {
      ok: true,
      release: (ms: number) => {
        if (released) return;
        released = true;
        w.inFlight--;
        w.exec.push({ at: this.now(), ms });
        w.execSum += ms;
      },
    };
  }
}
