import {
  afterKeysPage,
  afterParallelLoad,
  afterRangeFailure,
  afterRangePage,
  checkpointSchema,
  startFullLoad,
  withParallelLoad,
} from '../../shared/domain/checkpoint.state';
import {
  addToSample,
  DEFAULT_PARTITION_SIZING,
  emptySample,
  planPartitions,
  type CreatedOnSample,
} from '../../shared/domain/load-partition.rules';
import { ExecutionPacer } from '../../shared/sync/execution.pacer';

const now = new Date('2026-03-01T12:00:00.000Z');
const day = (n: number) => new Date(Date.UTC(2024, 0, 1) + n * 86_400_000).toISOString();

describe('createdon sample', () => {
  it.each([
    { rows: 10, capacity: 8, stride: 2, kept: 5 },
    { rows: 100, capacity: 8, stride: 16, kept: 7 },
    { rows: 8, capacity: 8, stride: 1, kept: 8 },
    { rows: 0, capacity: 8, stride: 1, kept: 0 },
  ])('keeps every stride-th of $rows rows within $capacity', ({ rows, capacity, stride, kept }) => {
    const values = Array.from({ length: rows }, (_, i) => day(i));
    const sample = addToSample(emptySample(), values, capacity);
    expect(sample).toMatchObject({ stride, seen: rows });
    expect(sample.values).toHaveLength(kept);
    // Evenly spaced: the kept values are rows 0, stride, 2*stride, ...
    sample.values.forEach((value, i) => expect(value).toBe(day(i * stride)));
  });

  it('samples the same whether the rows come in one page or many', () => {
    const values = Array.from({ length: 1000 }, (_, i) => day(i));
    const whole = addToSample(emptySample(), values, 16);
    let paged = emptySample();
    for (let i = 0; i < values.length; i += 7) paged = addToSample(paged, values.slice(i, i + 7), 16);
    expect(paged).toEqual(whole);
  });

  it('counts rows without a createdon but does not sample them', () => {
    const sample = addToSample(emptySample(), [null, day(1), null]);
    expect(sample).toEqual({ stride: 1, seen: 3, nulls: 2, values: [day(1)] });
  });
});

describe('planPartitions', () => {
  const sampleOf = (values: string[], seen = values.length, nulls = 0): CreatedOnSample => ({
    stride: 1,
    seen,
    nulls,
    values,
  });

  it.each([
    { name: 'a small table: one unfiltered range', values: [day(1), day(2)], seen: 2, ranges: 1 },
    { name: 'no sample at all', values: [], seen: 0, ranges: 1 },
    {
      name: 'every row sharing one timestamp',
      values: Array(50).fill(day(3)) as string[],
      seen: 100,
      ranges: 1,
    },
  ])('$name', ({ values, seen, ranges }) => {
    const plan = planPartitions(sampleOf(values, seen), { rowsPerPartition: 10, maxPartitions: 64 });
    expect(plan).toHaveLength(ranges);
    expect(plan[0]).toEqual({ done: false, rows: 0, failures: 0 });
  });

  it('splits at sample quantiles into adjoining ranges, then one for rows without createdon', () => {
    const values = Array.from({ length: 100 }, (_, i) => day(99 - i));
    const plan = planPartitions(sampleOf(values, 100_000, 3), {
      rowsPerPartition: 25_000,
      maxPartitions: 64,
    });
    expect(plan.map((p) => [p.from, p.to, p.nulls])).toEqual([
      [undefined, day(25), undefined],
      [day(25), day(50), undefined],
      [day(50), day(75), undefined],
      [day(75), undefined, undefined],
      [undefined, undefined, true],
    ]);
    // No row without a createdon seen: no range read for them.
    const none = planPartitions(sampleOf(values, 100_000, 0), {
      rowsPerPartition: 25_000,
      maxPartitions: 64,
    });
    expect(none.some((p) => p.nulls === true)).toBe(false);
    expect(none).toHaveLength(4);
  });

  it.each([
    { rows: 1_000_000, readers: 8, ranges: 64 },
    { rows: 100_000, readers: 8, ranges: 8 },
    { rows: 50_000, readers: 8, ranges: 8 },
    { rows: 20_000, readers: 8, ranges: 4 },
    { rows: 4_000, readers: 8, ranges: 1 },
  ])('$rows rows with $readers readers: $ranges ranges by default', ({ rows, readers, ranges }) => {
    const values = Array.from({ length: 512 }, (_, i) => day(i));
    const plan = planPartitions(sampleOf(values, rows), {
      ...DEFAULT_PARTITION_SIZING,
      minPartitions: readers,
    });
    expect(plan).toHaveLength(ranges);
  });

  it('never makes more than maxPartitions ranges, and skips repeated boundaries', () => {
    const values = Array.from({ length: 512 }, (_, i) => day(Math.floor(i / 64)));
    const plan = planPartitions(sampleOf(values, 10_000_000), { rowsPerPartition: 1000, maxPartitions: 64 });
    const ranges = plan.filter((p) => p.nulls !== true);
    expect(ranges.length).toBe(8);
    for (let i = 1; i < ranges.length; i += 1) expect(ranges[i]?.from).toBe(ranges[i - 1]?.to);
  });
});

describe('parallel load checkpoint', () => {
  const sizing = { rowsPerPartition: 2, maxPartitions: 64 };

  it('walks keys -> ranges -> delta, keeping each range progress in a valid checkpoint', () => {
    const start = withParallelLoad(startFullLoad('contact', 'load-1', now, false, ['contactid']));
    const keys = afterKeysPage(start, { nextLink: 'k2', createdOn: [day(1), day(2)] }, now, sizing);
    expect(keys).toMatchObject({ nextLink: 'k2', parallel: { stage: 'keys', sample: { seen: 2 } } });
    const ranges = afterKeysPage(keys, { deltaLink: 'd1', createdOn: [day(3), day(4)] }, now, sizing);
    expect(ranges).toMatchObject({ phase: 'initial', deltaLink: 'd1', tracking: 'keys' });
    expect(ranges.nextLink).toBeUndefined();
    expect(ranges.parallel?.stage).toBe('ranges');
    expect(ranges.parallel?.partitions.length).toBeGreaterThan(1);
    const paged = afterRangePage(ranges, 0, { nextLink: 'r0-2', rows: 5 }, now);
    expect(paged.parallel?.partitions[0]).toMatchObject({ nextLink: 'r0-2', rows: 5, done: false });
    const failed = afterRangeFailure(paged, 0, now);
    expect(failed.parallel?.partitions[0]).toMatchObject({ nextLink: 'r0-2', failures: 1 });
    const done = afterRangePage(failed, 0, { rows: 1 }, now);
    expect(done.parallel?.partitions[0]).toMatchObject({ rows: 6, done: true });
    expect(done.parallel?.partitions[0]?.nextLink).toBeUndefined();
    expect(checkpointSchema.parse(done)).toEqual(done);
    const delta = afterParallelLoad(done, now);
    expect(delta).toMatchObject({ phase: 'delta', deltaLink: 'd1', tracking: 'keys', resync: false });
    expect(delta.parallel).toBeUndefined();
    expect(delta.loadId).toBeUndefined();
  });

  it('leaves a checkpoint without a parallel load, or an unknown range, as it is', () => {
    const plain = startFullLoad('contact', 'load-1', now, false);
    expect(afterKeysPage(plain, { deltaLink: 'd', createdOn: [] }, now)).toBe(plain);
    expect(afterRangePage(plain, 0, { rows: 1 }, now)).toBe(plain);
  });
});

describe('ExecutionPacer', () => {
  /** A fake clock: requests "take" the time the test says, and sleeping moves the clock. */
  function paced(budgetMs: number, windowMs: number) {
    let clock = 0;
    const pacer = new ExecutionPacer(
      { budgetMs, windowMs },
      () => clock,
      (ms) => {
        clock += ms;
        return Promise.resolve();
      },
    );
    const request = (ms: number) =>
      pacer.run(() => {
        clock += ms;
        return Promise.resolve(clock);
      });
    return { pacer, request, at: () => clock };
  }

  it.each([
    { name: 'within the budget: no wait', budget: 10_000, durations: [2000, 2000, 2000], waited: 0 },
    {
      name: 'over the budget: waits for the window to slide',
      budget: 5000,
      durations: [2000, 2000, 2000],
      waited: 1,
    },
  ])('$name', async ({ budget, durations, waited }) => {
    const { pacer, request } = paced(budget, 10_000);
    for (const ms of durations) await request(ms);
    expect(pacer.waitedMs > 0 ? 1 : 0).toBe(waited);
  });

  it('never lets the durations of one window exceed the budget', async () => {
    const { request, at } = paced(6000, 10_000);
    const spans: { end: number; ms: number }[] = [];
    for (let i = 0; i < 20; i += 1) {
      await request(2000);
      spans.push({ end: at(), ms: 2000 });
    }
    for (const span of spans) {
      const inWindow = spans.filter((s) => s.end > span.end - 10_000 && s.end <= span.end);
      expect(inWindow.reduce((sum, s) => sum + s.ms, 0)).toBeLessThanOrEqual(6000);
    }
  });
});
