import { ACTION_KINDS, FAULT_KINDS, planChaos } from '../../local/chaos/chaos.schedule';

const plan = (seed: number, minutes = 10) =>
  planChaos({ seed, durationMs: minutes * 60_000, meanFaultGapMs: 10_000, meanActionGapMs: 1_500 });

describe('chaos schedule', () => {
  it('is the same for the same seed, so a failing run can be replayed', () => {
    expect(plan(1207)).toEqual(plan(1207));
    expect(plan(1207)).not.toEqual(plan(1208));
  });

  it('draws every kind of fault and edit over a long run, all inside it and in order', () => {
    const { faults, actions } = plan(42);
    expect(new Set(faults.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    expect(new Set(actions.map((a) => a.kind))).toEqual(new Set(ACTION_KINDS));
    for (const list of [faults, actions]) {
      const offsets = list.map((e) => e.atMs);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      expect(Math.max(...offsets)).toBeLessThan(10 * 60_000);
    }
  });

  it.each([
    ['throttle', 1, 3],
    ['server-error', 0.05, 0.25],
    ['reset', 0.03, 0.15],
    ['latency', 50, 800],
  ] as const)('keeps %s within its bounds', (kind, min, max) => {
    for (const fault of plan(7, 60).faults.filter((f) => f.kind === kind)) {
      expect(fault.level).toBeGreaterThanOrEqual(min);
      expect(fault.level).toBeLessThanOrEqual(max);
      expect(fault.forMs).toBeGreaterThan(0);
    }
  });
});
