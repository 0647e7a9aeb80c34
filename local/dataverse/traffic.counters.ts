export interface TrafficCounters {
  requests: number;
  throttled: number;
  retryAfterViolations: number;
  inFlight: number;
  maxInFlight: number;
  writes: number;
  faults: number;
  byStatus: Record<string, number>;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  clientId: string | undefined;
  start: number;
  end: number;
  throttled: boolean;
  fault?: 'error' | 'reset';
  batch?: boolean;
}

const fresh = (): TrafficCounters => ({
  requests: 0,
  throttled: 0,
  retryAfterViolations: 0,
  inFlight: 0,
  maxInFlight: 0,
  writes: 0,
  faults: 0,
  byStatus: {},
});

/** Counters per client and in total, and a bounded log of API requests. */
export class TrafficRecorder {
  private total = fresh();
  private perClient = new Map<string, TrafficCounters>();
  private log: RequestLogEntry[] = [];

  constructor(private readonly logSize: number) {}

  private each(clientId: string | undefined, fn: (c: TrafficCounters) => void): void {
    fn(this.total);
    const key = clientId ?? 'anonymous';
    let c = this.perClient.get(key);
    if (!c) {
      c = fresh();
      this.perClient.set(key, c);
    }
    fn(c);
  }

  /** A request arrived (counted as in flight until `finish`). */
  start(clientId: string | undefined): void {
    this.each(clientId, (c) => {
      c.requests++;
      c.inFlight++;
      if (c.inFlight > c.maxInFlight) c.maxInFlight = c.inFlight;
    });
  }

  finish(
    clientId: string | undefined,
    entry: Omit<RequestLogEntry, 'clientId'>,
    extra: { writes?: number; violation?: boolean },
  ): void {
    this.each(clientId, (c) => {
      c.inFlight--;
      c.byStatus[entry.status] = (c.byStatus[entry.status] ?? 0) + 1;
      if (entry.throttled) c.throttled++;
      if (extra.violation) c.retryAfterViolations++;
      if (entry.fault) c.faults++;
      c.writes += extra.writes ?? 0;
    });
    this.log.push({ ...entry, clientId });
    if (this.log.length > this.logSize * 2) this.log = this.log.slice(-this.logSize);
  }

  counters(): { total: TrafficCounters; clients: Record<string, TrafficCounters> } {
    const copy = (c: TrafficCounters): TrafficCounters => ({ ...c, byStatus: { ...c.byStatus } });
    return {
      total: copy(this.total),
      clients: Object.fromEntries([...this.perClient].map(([k, v]) => [k, copy(v)])),
    };
  }

  reset(): void {
    const inFlightTotal = this.total.inFlight;
    this.total = { ...fresh(), inFlight: inFlightTotal };
    this.perClient = new Map([...this.perClient].map(([k, v]) => [k, { ...fresh(), inFlight: v.inFlight }]));
    this.log = [];
  }

  requestLog(): RequestLogEntry[] {
    return this.log.slice(-this.logSize);
  }
}
