import { z } from 'zod';
import { clampPageSize, type DataverseClient, type Page } from './dataverse.client';
import { DataverseError } from './dataverse.errors';
import type {
  ChangePage,
  ChangeSource,
  DeletedRow,
  ModifiedPage,
  ModifiedSinceOptions,
  ReadChangesOptions,
  ReadRangeOptions,
  ReadRowsOptions,
} from '../sync/ports';
import { and, asGuid, dateLiteral, eq, FilterExpression, identifier, or, selectList } from './odata.query';

/** Ids per query when reading rows by id: the filter stays well under Dataverse's URL length limit. */
const IDS_PER_QUERY = 50;

const tombstoneSchema = z.object({
  id: z.string(),
  reason: z.string().optional(),
});

// OData 4.01 JSON form, in case a deletion comes as {"@removed": {...}, "@id": "...contacts(<id>)"}.
const removedSchema = z.object({
  '@removed': z.object({ reason: z.string().optional() }),
  '@id': z.string(),
});

const trailingGuid = /\(([0-9a-fA-F-]{36})\)\s*$/;

/** Splits a tracking page's `value` into upserted rows and deletion tombstones. */
export function splitChanges(values: Record<string, unknown>[]): Pick<ChangePage, 'rows' | 'deleted'> {
  const rows: Record<string, unknown>[] = [];
  const deleted: DeletedRow[] = [];
  for (const value of values) {
    const context = value['@odata.context'];
    if (typeof context === 'string' && context.endsWith('$deletedEntity')) {
      const tombstone = tombstoneSchema.safeParse(value);
      if (!tombstone.success) {
        throw new DataverseError('A $deletedEntity without an id', {
          code: 'bad_response',
          retryable: false,
        });
      }
      deleted.push({
        id: tombstone.data.id.toLowerCase(),
        ...(tombstone.data.reason !== undefined ? { reason: tombstone.data.reason } : {}),
      });
      continue;
    }
    // Only a row carrying @removed can be the 4.01 deletion form: skip the parse for the rest.
    const removed = '@removed' in value ? removedSchema.safeParse(value) : undefined;
    if (removed?.success) {
      const id = trailingGuid.exec(removed.data['@id'])?.[1];
      if (id) {
        deleted.push({
          id: id.toLowerCase(),
          ...(removed.data['@removed'].reason !== undefined
            ? { reason: removed.data['@removed'].reason }
            : {}),
        });
        continue;
      }
    }
    rows.push(value);
  }
  return { rows, deleted };
}

const isDeltaLink = (link: string): boolean => /[?&]\$?deltatoken=/i.test(link);

/**
 * Only the annotations the row mapper reads (labels and lookup names, lookup target tables). `*`
 * would add an associatednavigationproperty to every lookup, about a tenth of each page, that
 * the service must write and the sync must decode and parse for nothing.
 */
export const ROW_ANNOTATIONS =
  'odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"';

/**
 * Reads the Dataverse delta feed one page at a time. The caller writes each page and then saves
 * its nextLink/deltaLink, so a crash resumes at the last durable page and never skips one.
 */
export class ChangeTrackingReader implements ChangeSource {
  constructor(private readonly client: DataverseClient) {}

  /** The page size is added by the client, so it is sent once, in the position the service echoes. */
  trackingPrefer(): string[] {
    return ['odata.track-changes', ROW_ANNOTATIONS];
  }

  async *readChanges(options: ReadChangesOptions): AsyncGenerator<ChangePage> {
    const pageSize = clampPageSize(options.pageSize);
    const prefer = this.trackingPrefer();
    let page: Page;
    let isDelta: boolean;
    if (options.resumeLink !== undefined) {
      // A resume link carries its $select and token; follow it unchanged.
      isDelta = isDeltaLink(options.resumeLink);
      page = await this.client.getPage(options.resumeLink, undefined, { prefer, pageSize });
    } else {
      isDelta = false;
      page = await this.client.getPage(
        identifier(options.entitySet),
        { $select: selectList(options.select) },
        { prefer, pageSize },
      );
    }
    for (;;) {
      isDelta = isDelta || (page.context?.endsWith('/$delta') ?? false);
      const { rows, deleted } = splitChanges(page.rows);
      const out: ChangePage = { rows, deleted, isDelta };
      if (page.nextLink !== undefined) out.nextLink = page.nextLink;
      if (page.deltaLink !== undefined) out.deltaLink = page.deltaLink;
      yield out;
      if (page.nextLink === undefined) return;
      page = await this.client.getPage(page.nextLink, undefined, { prefer, pageSize });
    }
  }

  /**
   * An ordinary query for rows modified since `since`, for the catch-up pass after an initial
   * load (changes made during the load are not in the first deltaLink).
   */
  async *queryModifiedSince(options: ModifiedSinceOptions): AsyncGenerator<ModifiedPage> {
    const pageSize = clampPageSize(options.pageSize);
    const orderby = [
      'modifiedon asc',
      ...(options.keyColumn ? [`${identifier(options.keyColumn)} asc`] : []),
    ].join(',');
    const select = [...options.select, 'modifiedon'];
    // modifiedon has whole-second precision: flooring keeps a row modified in the same second.
    const since = new Date(Math.floor(options.since.getTime() / 1000) * 1000);
    const filter = new FilterExpression(`modifiedon ge ${dateLiteral(since)}`);
    const prefer = [ROW_ANNOTATIONS];
    for await (const page of this.client.getPages(
      identifier(options.entitySet),
      { $select: selectList(select), $filter: filter, $orderby: orderby },
      { prefer, pageSize },
    )) {
      yield { rows: page.rows, ...(page.nextLink !== undefined ? { nextLink: page.nextLink } : {}) };
    }
  }

  /**
   * One createdon range, as an ordinary query: `$filter` cannot be combined with change tracking.
   * No `$orderby`: the service pages by primary key, and each nextLink carries its own position.
   */
  async *readRange(options: ReadRangeOptions): AsyncGenerator<ModifiedPage> {
    const pageSize = clampPageSize(options.pageSize);
    const prefer = [ROW_ANNOTATIONS];
    let page: Page;
    if (options.resumeLink !== undefined) {
      page = await this.client.getPage(options.resumeLink, undefined, { prefer, pageSize });
    } else {
      const filter = rangeFilter(options.range);
      page = await this.client.getPage(
        identifier(options.entitySet),
        { $select: selectList(options.select), ...(filter !== undefined ? { $filter: filter } : {}) },
        { prefer, pageSize },
      );
    }
    for (;;) {
      yield { rows: page.rows, ...(page.nextLink !== undefined ? { nextLink: page.nextLink } : {}) };
      if (page.nextLink === undefined) return;
      page = await this.client.getPage(page.nextLink, undefined, { prefer, pageSize });
    }
  }

  /**
   * Reads these rows as they are now, by id (`key eq id or ...`, fifty ids a query), with the columns
   * and annotations of the delta feed, so they plan exactly like changes from it.
   */
  async *readRows(options: ReadRowsOptions): AsyncGenerator<ModifiedPage> {
    const prefer = [ROW_ANNOTATIONS];
    for (let start = 0; start < options.ids.length; start += IDS_PER_QUERY) {
      const ids = options.ids.slice(start, start + IDS_PER_QUERY);
      const filter = or(...ids.map((id) => eq(options.keyColumn, asGuid(id))));
      for await (const page of this.client.getPages(
        identifier(options.entitySet),
        { $select: selectList(options.select), $filter: filter },
        { prefer, pageSize: IDS_PER_QUERY },
      )) {
        yield { rows: page.rows, ...(page.nextLink !== undefined ? { nextLink: page.nextLink } : {}) };
      }
    }
  }
}

/** The filter of a createdon range; undefined for the single range that is the whole table. */
export function rangeFilter(range: ReadRangeOptions['range']): FilterExpression | undefined {
  if (range.nulls === true) return new FilterExpression('createdon eq null');
  const parts: FilterExpression[] = [];
  if (range.from !== undefined)
    parts.push(new FilterExpression(`createdon ge ${dateLiteral(new Date(range.from))}`));
  if (range.to !== undefined)
    parts.push(new FilterExpression(`createdon lt ${dateLiteral(new Date(range.to))}`));
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : and(...parts);
}
