import type { ModifiedPage } from './ports';

/** The port of verify beside the sync's own (ports.ts): a whole-table read. */

export interface ScanRowsOptions {
  entitySet: string;
  select: string[];
  /** At most 5000 (the default). */
  pageSize?: number;
}

/** Every row of a Dynamics table, in pages (TableScanReader). */
export interface RowScanner {
  scanRows(options: ScanRowsOptions): AsyncIterable<ModifiedPage>;
}
