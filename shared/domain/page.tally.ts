import type { PagePlan } from './page.planner';

/** What became of the rows and tombstones of a page, counted once each. */
export interface RowCounts {
  /** Rows and tombstones whose change this pull stored (a resync's stamp of a row as seen included). */
  written: number;
  /** Rows whose synced values were already stored: no write. */
  unchanged: number;
}

/**
 * Counts one page's rows by what became of them, across every attempt at writing the page: a
 * re-plan after a write conflict, and a first load's rows moved to the read path after some of
 * their documents were created. A row whose document an earlier attempt stored is written, even
 * though the plan it ends with finds it unchanged; so each row is counted at most once and
 * written + unchanged never exceeds the rows and tombstones the page holds.
 */
export class PageTally {
  private readonly written = new Set<string>();
  private readonly unchanged = new Set<string>();

  /** A plan's writes went through, except those of the documents in `conflicts`. */
  stored(plan: Pick<PagePlan, 'changed'>, conflicts: readonly string[]): void {
    const lost = new Set(conflicts);
    for (const { row, doc } of plan.changed) if (!lost.has(doc)) this.written.add(row);
  }

  /** A plan the page (or part of it) ended with: its rows that needed no write. */
  settled(plan: Pick<PagePlan, 'unchangedRows'>): void {
    for (const row of plan.unchangedRows) this.unchanged.add(row);
  }

  counts(): RowCounts {
    let unchanged = 0;
    for (const row of this.unchanged) if (!this.written.has(row)) unchanged += 1;
    return { written: this.written.size, unchanged };
  }
}
