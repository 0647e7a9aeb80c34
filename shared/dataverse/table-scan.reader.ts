import type { RowScanner, ScanRowsOptions } from '../sync/verify.ports';
import type { ModifiedPage } from '../sync/ports';
import { ROW_ANNOTATIONS } from './change-tracking.reader';
import { clampPageSize, type DataverseClient } from './dataverse.client';
import { identifier, selectList } from './odata.query';

/**
 * Every row of a table, page by page, with the columns and annotations of the delta feed so a row
 * maps (and hashes) exactly as the pull maps it. Each page is one request through the client, so
 * the throttle governor paces it like any pull; only one page is held at a time.
 */
export class TableScanReader implements RowScanner {
  constructor(private readonly client: DataverseClient) {}

  async *scanRows(options: ScanRowsOptions): AsyncGenerator<ModifiedPage> {
    for await (const page of this.client.getPages(
      identifier(options.entitySet),
      { $select: selectList(options.select) },
      { prefer: [ROW_ANNOTATIONS], pageSize: clampPageSize(options.pageSize) },
    )) {
      yield { rows: page.rows, ...(page.nextLink !== undefined ? { nextLink: page.nextLink } : {}) };
    }
  }
}
