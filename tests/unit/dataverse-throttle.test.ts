import { DataverseError } from '../../shared/dataverse/dataverse.errors';
import {
  HARD_CONCURRENCY_CAP,
  ThrottleGovernor,
  type ThrottleGovernorOptions,
} from '../../shared/dataverse/throttle.governor';
import { rejectsWithDataverseError } from '../support/dataverse-error.expect';

/** Virtual time: sleeps resolve in deadline order once every other promise has settled. */
class VirtualClock {
  t = 1_000_000;
  private timers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;
  now = (): number => this.t;
  sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      this.timers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, resolve });
    });
  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const guarded = work.finally(() => {
      done = true;
    });
    guarded.catch(() => undefined);
    while (!done) {
      await new Promise((r) => setImmediate(r));
      if (done) break;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (!next) continue;
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
    return guarded;
  }
}

/** A governor on a virtual clock; `delays` records each wait the governor itself sleeps. */
function onVirtualClock(options: Omit<ThrottleGovernorOptions, 'sleep' | 'now'> = {}) {
  const clock = new VirtualClock();
  const delays: number[] = [];
  const governor = new ThrottleGovernor({
    ...options,
    sleep: (ms) => {
      delays.push(ms);
      return clock.sleep(ms);
    },
    now: clock.now,
  });
  return { clock, governor, delays };
}

const throttled = (retryAfterMs?: number) =>
  new DataverseError('429', {
    code: 'throttled',
    retryable: true,
    status: 429,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
const serverError = (status = 503) =>
  new DataverseError(String(status), { code: 'server_error', retryable: true, status });

describe('ThrottleGovernor concurrency', () => {
  it('clamps to the hard cap of 52 and says so', () => {
    const warn = jest.fn();
    const events: unknown[] = [];
    const governor = new ThrottleGovernor({ maxConcurrency: 100, warn, onEvent: (e) => events.push(e) });
    expect(governor.maxConcurrency).toBe(HARD_CONCURRENCY_CAP);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('clamped to 52'));
    expect(events).toContainEqual({ type: 'clamp', requested: 100, applied: 52 });
    expect(new ThrottleGovernor({ maxConcurrency: 0, warn }).maxConcurrency).toBe(1);
    expect(new ThrottleGovernor({ warn }).maxConcurrency).toBe(8);
  });

  it.each([8, 52])('never exceeds a cap of %i under 200 concurrent calls, FIFO order', async (cap) => {
    const { clock, governor } = onVirtualClock({
      maxConcurrency: cap,
      warn: () => {},
    });
    let inFlight = 0;
    let max = 0;
    const started: number[] = [];
    const calls = Array.from({ length: 200 }, (_, i) =>
      governor.run(async () => {
        started.push(i);
        inFlight += 1;
        max = Math.max(max, inFlight);
        await clock.sleep(5 + ((i * 7) % 13));
        inFlight -= 1;
        return i;
      }),
    );
    const results = await clock.run(Promise.all(calls));
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(max).toBe(cap);
    expect(governor.counters().maxInFlight).toBe(cap);
    expect(governor.counters().inFlight).toBe(0);
    expect(started).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });
});

describe('ThrottleGovernor Retry-After', () => {
  it('pauses everyone until Retry-After and retries the throttled request exactly then', async () => {
    const { clock, governor } = onVirtualClock({
      maxConcurrency: 4,
      retryAfterMarginMs: 0,
      rampUp: false,
    });
    const sends: { id: number; at: number }[] = [];
    let throttledAt = -1;
    let sendsBeforeThrottle = -1;
    const calls = Array.from({ length: 20 }, (_, id) =>
      governor.run(async ({ attempt }) => {
        sends.push({ id, at: clock.now() });
        await clock.sleep(10);
        if (id === 5 && attempt === 1) {
          throttledAt = clock.now();
          sendsBeforeThrottle = sends.length;
          throw throttled(3000);
        }
        return id;
      }),
    );
    await clock.run(Promise.all(calls));
    const deadline = throttledAt + 3000;
    // Nothing is sent after the 429 reached us and before its deadline.
    expect(sendsBeforeThrottle).toBeGreaterThan(0);
    const during = sends.slice(sendsBeforeThrottle).filter((s) => s.at < deadline);
    expect(during).toEqual([]);
    const retry = sends.filter((s) => s.id === 5);
    expect(retry).toHaveLength(2);
    expect(retry[1]?.at).toBe(deadline);
    expect(governor.counters()).toMatchObject({ throttled: 1, retries: 1 });
  });

  it('keeps the latest deadline when several 429s overlap, with a fake server counting violations', async () => {
    const { clock, governor } = onVirtualClock({
      maxConcurrency: 8,
      retryAfterMarginMs: 0,
    });
    // A fake service: a 429 arms a deadline; a request sent after the client received a 429 and before its deadline is a violation.
    let deadline = 0;
    let receivedAt = Number.POSITIVE_INFINITY;
    let violations = 0;
    let served = 0;
    const latency = 7;
    const call = async () => {
      const sentAt = clock.now();
      if (sentAt >= receivedAt && sentAt < deadline) violations += 1;
      await clock.sleep(latency);
      served += 1;
      if (served % 25 === 0) {
        const seconds = 1 + (served % 3);
        deadline = Math.max(deadline, sentAt + seconds * 1000);
        receivedAt = clock.now();
        throw throttled(seconds * 1000);
      }
      return 'ok';
    };
    const results = await clock.run(Promise.all(Array.from({ length: 300 }, () => governor.run(call))));
    expect(results.every((r) => r === 'ok')).toBe(true);
    expect(violations).toBe(0);
    expect(governor.counters().throttled).toBeGreaterThan(5);
    expect(governor.counters().maxInFlight).toBeLessThanOrEqual(8);
  });

  it('ready() holds back an admitted attempt when a 429 lands while it was still getting a token', async () => {
    const { clock, governor } = onVirtualClock({
      maxConcurrency: 2,
      retryAfterMarginMs: 0,
    });
    const sent: { who: string; at: number }[] = [];
    let throttledAt = 0;
    const first = governor.run(async ({ attempt }) => {
      sent.push({ who: 'first', at: clock.now() });
      await clock.sleep(5);
      if (attempt === 1) {
        throttledAt = clock.now();
        throw throttled(2000);
      }
    });
    const second = governor.run(async ({ ready }) => {
      await clock.sleep(20); // a slow token fetch, admitted before the 429 arrived
      await ready();
      sent.push({ who: 'second', at: clock.now() });
    });
    await clock.run(Promise.all([first, second]));
    expect(throttledAt).toBeGreaterThan(0);
    expect(sent.find((s) => s.who === 'second')?.at).toBeGreaterThanOrEqual(throttledAt + 2000);
  });

  it('halves concurrency after a throttle and ramps back up', async () => {
    const { clock, governor } = onVirtualClock({
      maxConcurrency: 8,
      rampUpEvery: 2,
    });
    let first = true;
    await clock.run(
      governor.run(async () => {
        if (first) {
          first = false;
          throw throttled(1000);
        }
      }),
    );
    expect(governor.counters().limit).toBe(4);
    for (let i = 0; i < 8; i += 1) await clock.run(governor.run(async () => undefined));
    expect(governor.counters().limit).toBe(8);
  });

  it('gives up with a retryable error when Retry-After is longer than it will wait in process', async () => {
    const { clock, governor } = onVirtualClock({ maxRetryAfterMs: 60_000 });
    const attempt = jest.fn(async () => {
      throw throttled(120_000);
    });
    await expect(clock.run(governor.run(attempt))).rejects.toMatchObject({
      code: 'throttled',
      retryable: true,
      attempts: 1,
    });
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it('backs off exponentially when a 429 has no Retry-After', async () => {
    const { clock, governor, delays } = onVirtualClock({
      random: () => 1,
      baseDelayMs: 100,
      maxAttempts: 4,
    });
    let n = 0;
    const result = await clock.run(
      governor.run(async () => {
        n += 1;
        if (n < 4) throw throttled();
        return n;
      }),
    );
    expect(result).toBe(4);
    expect(delays).toEqual([100, 200, 400]);
  });
});

describe('ThrottleGovernor transient failures', () => {
  it('uses full jitter, bounded attempts, then a retryable error', async () => {
    const randoms = [0.5, 0.25, 1, 0];
    const { clock, governor, delays } = onVirtualClock({
      random: () => randoms.shift() ?? 0,
      baseDelayMs: 1000,
      maxDelayMs: 3000,
      maxAttempts: 5,
    });
    const attempt = jest.fn(async () => {
      throw serverError(503);
    });
    await rejectsWithDataverseError(clock.run(governor.run(attempt)), {
      code: 'server_error',
      retryable: true,
      attempts: 5,
    });
    expect(attempt).toHaveBeenCalledTimes(5);
    // ceilings 1000, 2000, 4000->3000 (max), 3000
    expect(delays).toEqual([500, 500, 3000, 0]);
    expect(governor.counters()).toMatchObject({ retries: 4, failures: 1, inFlight: 0 });
  });

  it('does not retry non-retryable errors or foreign exceptions', async () => {
    const governor = new ThrottleGovernor();
    const notFound = jest.fn(async () => {
      throw new DataverseError('404', { code: 'not_found', retryable: false, status: 404 });
    });
    await expect(governor.run(notFound)).rejects.toMatchObject({ code: 'not_found' });
    expect(notFound).toHaveBeenCalledTimes(1);
    const bug = jest.fn(async () => {
      throw new TypeError('bug');
    });
    await expect(governor.run(bug)).rejects.toBeInstanceOf(TypeError);
    expect(bug).toHaveBeenCalledTimes(1);
    expect(governor.counters().inFlight).toBe(0);
  });

  it('retries a non-idempotent request only when the service surely did not run it', async () => {
    const { clock, governor } = onVirtualClock();
    const reset = jest.fn(async () => {
      throw new DataverseError('reset', { code: 'network', retryable: true, cause: { code: 'ECONNRESET' } });
    });
    await expect(clock.run(governor.run(reset, { idempotent: false }))).rejects.toMatchObject({
      code: 'network',
      retryable: true,
    });
    expect(reset).toHaveBeenCalledTimes(1);
    let n = 0;
    const unavailableOnce = async () => {
      n += 1;
      if (n === 1) throw serverError(503);
      return 'created';
    };
    await expect(clock.run(governor.run(unavailableOnce, { idempotent: false }))).resolves.toBe('created');
  });
});
