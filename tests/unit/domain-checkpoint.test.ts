import {
  afterCatchup,
  afterPage,
  catchupSince,
  checkpointSchema,
  paused,
  startFullLoad,
} from '../../shared/domain/checkpoint.state';

const now = new Date('2026-03-01T12:00:00.000Z');

describe('checkpoint state', () => {
  it('walks initial -> catchup -> delta, keeping the links the next run needs', () => {
    const start = startFullLoad('contact', 'load-1', now, false);
    expect(checkpointSchema.parse(start)).toMatchObject({ id: 'checkpoint:contact', phase: 'initial' });
    const mid = afterPage(start, { nextLink: 'n1' }, now);
    expect(mid).toMatchObject({ phase: 'initial', nextLink: 'n1', loadId: 'load-1' });
    const end = afterPage(mid, { deltaLink: 'd1' }, now);
    expect(end).toMatchObject({ phase: 'catchup', deltaLink: 'd1' });
    expect(end.nextLink).toBeUndefined();
    const delta = afterCatchup(end, now);
    expect(delta).toMatchObject({ phase: 'delta', deltaLink: 'd1', resync: false });
    expect(delta.loadId).toBeUndefined();
    // A paged delta answer keeps the old deltaLink until its last page brings a new one.
    const paging = afterPage(delta, { nextLink: 'n2' }, now);
    expect(paging).toMatchObject({ phase: 'delta', nextLink: 'n2', deltaLink: 'd1' });
    expect(afterPage(paging, { deltaLink: 'd2' }, now)).toMatchObject({ phase: 'delta', deltaLink: 'd2' });
  });

  it('re-reads from before the load started, by the skew', () => {
    const start = startFullLoad('lead', 'l', now, true);
    expect(catchupSince(start).toISOString()).toBe('2026-03-01T11:55:00.000Z');
    expect(start.resync).toBe(true);
  });

  it('records a pause with its reason', () => {
    const p = paused(
      startFullLoad('lead', 'l', now, false),
      { code: 'unknown_column', reason: 'x', column: 'c' },
      now,
    );
    expect(checkpointSchema.parse(p).paused).toEqual({
      code: 'unknown_column',
      reason: 'x',
      column: 'c',
      at: now.toISOString(),
    });
  });
});
