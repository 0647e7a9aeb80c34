import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChangeTrackingReader, splitChanges } from '../../shared/dataverse/change-tracking.reader';
import type { ChangePage } from '../../shared/sync/ports';
import { DataverseClient } from '../../shared/dataverse/dataverse.client';
import { ThrottleGovernor } from '../../shared/dataverse/throttle.governor';

const ids = Array.from({ length: 6 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
const row = (i: number, v: number) => ({
  '@odata.etag': `W/"${v}"`,
  contactid: ids[i],
  fullname: `Person ${i}`,
  _ownerid_value: ids[5],
  '_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'systemuser',
});

interface Seen {
  url: string;
  prefer: string | undefined;
}

let close: (() => Promise<void>) | undefined;

async function startTrackingServer(opts: { expired?: boolean; untracked?: boolean } = {}) {
  const seen: Seen[] = [];
  let base = '';
  const api = '/api/data/v9.2';
  const srv = http.createServer((req, res) => {
    const url = req.url ?? '';
    seen.push({ url, prefer: req.headers.prefer as string | undefined });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json; odata.metadata=minimal' });
      res.end(JSON.stringify(body));
    };
    const context = `${base}${api}/$metadata#contacts(contactid,fullname)`;
    if (opts.untracked) {
      return send(400, {
        error: { code: '0x80072491', message: "Entity contact isn't enabled for change tracking." },
      });
    }
    if (url.includes('$deltatoken=')) {
      if (opts.expired) {
        return send(400, {
          error: {
            code: '0x80044352',
            message: 'Version stamp associated with the client has expired. Please perform a full sync.',
          },
        });
      }
      if (url.includes('$skiptoken=d2')) {
        return send(200, {
          '@odata.context': `${context}/$delta`,
          value: [
            {
              '@odata.context': `${base}${api}/$metadata#contacts/$deletedEntity`,
              id: ids[2]?.toUpperCase(),
              reason: 'deleted',
            },
            {
              '@odata.context': `${base}${api}/$metadata#contacts/$deletedEntity`,
              id: ids[4],
              reason: 'deleted',
            },
          ],
          '@odata.deltaLink': `${base}${api}/contacts?$select=contactid,fullname&$deltatoken=919042%2108%2f22%2f2024`,
        });
      }
      return send(200, {
        '@odata.context': `${context}/$delta`,
        value: [row(1, 20), row(3, 21)],
        '@odata.nextLink': `${base}${api}/contacts?$select=contactid,fullname&$deltatoken=919000%2108%2f22%2f2024&$skiptoken=d2`,
      });
    }
    if (url.includes('$skiptoken=p2')) {
      return send(200, {
        '@odata.context': context,
        value: [row(2, 12), row(3, 13)],
        '@odata.deltaLink': `${base}${api}/contacts?$select=contactid,fullname&$deltatoken=919000%2108%2f22%2f2024`,
      });
    }
    return send(200, {
      '@odata.context': context,
      value: [row(0, 10), row(1, 11)],
      '@odata.nextLink': `${base}${api}/contacts?$select=contactid,fullname&$skiptoken=p2`,
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  close = () =>
    new Promise<void>((resolve) => {
      srv.closeAllConnections();
      srv.close(() => resolve());
    });
  const client = new DataverseClient({
    baseUrl: base,
    tokenProvider: { getToken: async () => 'tok' },
    governor: new ThrottleGovernor({ baseDelayMs: 1 }),
  });
  return { seen, reader: new ChangeTrackingReader(client), base };
}

afterEach(async () => {
  await close?.();
  close = undefined;
});

const collect = async (pages: AsyncIterable<ChangePage>) => {
  const out: ChangePage[] = [];
  for await (const page of pages) out.push(page);
  return out;
};

describe('ChangeTrackingReader.readChanges', () => {
  it('pages an initial load via nextLink and ends with a deltaLink', async () => {
    const { seen, reader, base } = await startTrackingServer();
    const pages = await collect(
      reader.readChanges({ entitySet: 'contacts', select: ['contactid', 'fullname'], pageSize: 2 }),
    );
    expect(pages).toHaveLength(2);
    expect(pages[0]?.rows.map((r) => r['contactid'])).toEqual([ids[0], ids[1]]);
    expect(pages[0]?.nextLink).toBe(
      `${base}/api/data/v9.2/contacts?$select=contactid,fullname&$skiptoken=p2`,
    );
    expect(pages[0]?.deltaLink).toBeUndefined();
    expect(pages[1]?.deltaLink).toContain('$deltatoken=');
    expect(pages.every((p) => !p.isDelta && p.deleted.length === 0)).toBe(true);
    expect(pages[0]?.rows[0]).toHaveProperty(['@odata.etag'], 'W/"10"');
    expect(seen[0]?.url).toBe('/api/data/v9.2/contacts?$select=contactid,fullname');
    for (const s of seen)
      expect(s.prefer).toBe(
        'odata.track-changes,odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname",odata.maxpagesize=2',
      );
    expect(seen[1]?.url).toBe('/api/data/v9.2/contacts?$select=contactid,fullname&$skiptoken=p2');
  });

  it('yields page by page, so the caller can checkpoint after each one', async () => {
    const { seen, reader } = await startTrackingServer();
    const iterator = reader.readChanges({ entitySet: 'contacts', select: ['contactid', 'fullname'] });
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect(seen).toHaveLength(1);
    await iterator.return(undefined);
    expect(seen).toHaveLength(1);
  });

  it('reads a delta: changed rows, then tombstones across pages, and a fresh deltaLink', async () => {
    const { seen, reader, base } = await startTrackingServer();
    const deltaLink = `${base}/api/data/v9.2/contacts?$select=contactid,fullname&$deltatoken=918000%2108%2f22%2f2024`;
    const pages = await collect(
      reader.readChanges({ entitySet: 'contacts', select: ['contactid'], resumeLink: deltaLink }),
    );
    expect(seen[0]?.url).toBe(deltaLink.slice(base.length));
    expect(pages).toHaveLength(2);
    expect(pages.every((p) => p.isDelta)).toBe(true);
    expect(pages[0]?.rows.map((r) => r['contactid'])).toEqual([ids[1], ids[3]]);
    expect(pages[1]?.rows).toEqual([]);
    expect(pages[1]?.deleted).toEqual([
      { id: ids[2], reason: 'deleted' },
      { id: ids[4], reason: 'deleted' },
    ]);
    expect(pages[1]?.deltaLink).toContain('$deltatoken=919042');
  });

  it('resumes from a saved nextLink of an initial load', async () => {
    const { reader, base } = await startTrackingServer();
    const pages = await collect(
      reader.readChanges({
        entitySet: 'contacts',
        select: ['contactid'],
        resumeLink: `${base}/api/data/v9.2/contacts?$select=contactid,fullname&$skiptoken=p2`,
      }),
    );
    expect(pages).toHaveLength(1);
    expect(pages[0]?.isDelta).toBe(false);
    expect(pages[0]?.deltaLink).toBeDefined();
  });

  it('reports an expired token as change_tracking_expired, not retryable, without retrying', async () => {
    const { seen, reader, base } = await startTrackingServer({ expired: true });
    const pages = reader.readChanges({
      entitySet: 'contacts',
      select: ['contactid'],
      resumeLink: `${base}/api/data/v9.2/contacts?$select=contactid&$deltatoken=1`,
    });
    await expect(collect(pages)).rejects.toMatchObject({
      code: 'change_tracking_expired',
      retryable: false,
      dataverseCode: '0x80044352',
    });
    expect(seen).toHaveLength(1);
  });

  it('reports an untracked table as change_tracking_disabled', async () => {
    const { reader } = await startTrackingServer({ untracked: true });
    await expect(
      collect(reader.readChanges({ entitySet: 'contacts', select: ['contactid'] })),
    ).rejects.toMatchObject({
      code: 'change_tracking_disabled',
      retryable: false,
    });
  });

  it('refuses a resume link to another origin and bad options', async () => {
    const { reader, seen } = await startTrackingServer();
    await expect(
      collect(
        reader.readChanges({
          entitySet: 'contacts',
          select: ['a'],
          resumeLink: 'https://evil.example.com/x?$deltatoken=1',
        }),
      ),
    ).rejects.toMatchObject({ code: 'foreign_origin' });
    await expect(
      collect(reader.readChanges({ entitySet: 'contacts', select: ['a'], pageSize: 0 })),
    ).rejects.toThrow();
    await expect(collect(reader.readChanges({ entitySet: 'contacts;drop', select: ['a'] }))).rejects.toThrow(
      /identifier/,
    );
    expect(seen).toHaveLength(0);
  });

  it('caps the page size at 5000', async () => {
    const { reader, seen } = await startTrackingServer();
    const iterator = reader.readChanges({ entitySet: 'contacts', select: ['contactid'], pageSize: 20000 });
    await iterator.next();
    await iterator.return(undefined);
    expect(seen[0]?.prefer).toContain('odata.maxpagesize=5000');
  });
});

describe('ChangeTrackingReader.queryModifiedSince', () => {
  it('queries modifiedon ge since, ordered, paged', async () => {
    const { reader, seen } = await startTrackingServer();
    const since = new Date(Date.UTC(2024, 7, 22, 10, 0, 0, 750));
    const pages = [];
    for await (const page of reader.queryModifiedSince({
      entitySet: 'contacts',
      select: ['contactid', 'fullname'],
      since,
      pageSize: 2,
      keyColumn: 'contactid',
    })) {
      pages.push(page);
    }
    expect(pages).toHaveLength(2);
    const first = new URL(`http://x${seen[0]?.url ?? ''}`);
    expect(first.searchParams.get('$filter')).toBe('modifiedon ge 2024-08-22T10:00:00.000Z');
    expect(first.searchParams.get('$orderby')).toBe('modifiedon asc,contactid asc');
    expect(first.searchParams.get('$select')).toBe('contactid,fullname,modifiedon');
    expect(seen[0]?.prefer).not.toContain('track-changes');
    expect(seen[0]?.prefer).toContain('odata.maxpagesize=2');
  });
});

describe('splitChanges', () => {
  it('recognises $deletedEntity and @removed tombstones', () => {
    const out = splitChanges([
      {
        '@odata.context': 'https://o/api/data/v9.2/$metadata#contacts/$deletedEntity',
        id: ids[1],
        reason: 'deleted',
      },
      { '@removed': { reason: 'deleted' }, '@id': `https://o/api/data/v9.2/contacts(${ids[2]})` },
      { contactid: ids[3], id: 'a-column-named-id', '@odata.etag': 'W/"3"' },
    ]);
    expect(out.deleted).toEqual([
      { id: ids[1], reason: 'deleted' },
      { id: ids[2], reason: 'deleted' },
    ]);
    expect(out.rows).toHaveLength(1);
  });
});
