import {
  manualRetryMessage,
  pushRetryMessageId,
  pushRetryMessageSchema,
  retryDelayMs,
} from '../../shared/sync/push-retry.message';

describe('push-retry messages', () => {
  const policy = { baseMs: 30_000, maxMs: 30 * 60_000 };

  it('backs off exponentially up to the ceiling, with at most 10% jitter', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, policy, () => 0))).toEqual([
      30_000, 60_000, 120_000, 240_000,
    ]);
    expect(retryDelayMs(20, policy, () => 0)).toBe(30 * 60_000);
    expect(retryDelayMs(1, policy, () => 0.999)).toBeLessThanOrEqual(33_000);
  });

  it('validates messages and gives equal content and attempt one id', () => {
    const message = manualRetryMessage(['p1', 'p2'], new Date('2026-01-01T00:00:00Z'));
    expect(pushRetryMessageSchema.parse(message)).toEqual(message);
    expect(pushRetryMessageId(message)).toBe(pushRetryMessageId({ ...message }));
    expect(pushRetryMessageId(message)).not.toBe(pushRetryMessageId({ ...message, attempt: 2 }));
    expect(pushRetryMessageSchema.safeParse({ ...message, persons: [] }).success).toBe(false);
    expect(pushRetryMessageSchema.safeParse({ ...message, attempt: 0 }).success).toBe(false);
  });
});
