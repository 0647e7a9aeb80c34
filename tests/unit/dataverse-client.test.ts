import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataverseClient } from '../../shared/dataverse/dataverse.client';
import { ThrottleGovernor } from '../../shared/dataverse/throttle.governor';
import type { TokenProvider } from '../../shared/dataverse/token.provider';
import { rejectsWithDataverseError } from '../support/dataverse-error.expect';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: Seen, res: http.ServerResponse, n: number) => void | Promise<void>;

interface Fixture {
  url: string;
  seen: Seen[];
  maxConcurrent: number;
  close(): Promise<void>;
}

const servers: Fixture[] = [];

async function startFixture(handler: Handler): Promise<Fixture> {
  const seen: Seen[] = [];
  let concurrent = 0;
  const fixture: Fixture = { url: '', seen, maxConcurrent: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(entry);
      concurrent += 1;
      fixture.maxConcurrent = Math.max(fixture.maxConcurrent, concurrent);
      res.on('close', () => {
        concurrent -= 1;
      });
      void Promise.resolve(handler(entry, res, seen.length)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fixture.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fixture.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  servers.push(fixture);
  return fixture;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const json = (
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) => {
  res.writeHead(status, { 'Content-Type': 'application/json; odata.metadata=minimal', ...headers });
  res.end(JSON.stringify(body));
};

class FakeTokens implements TokenProvider {
  calls: { forceRefresh?: boolean }[] = [];
  constructor(private readonly tokens: string[]) {}
  async getToken(options: { forceRefresh?: boolean } = {}): Promise<string> {
    this.calls.push(options);
    const token = options.forceRefresh ? this.tokens[1] : this.tokens[0];
    return token ?? 'none';
  }
}

const fastGovernor = (extra: ConstructorParameters<typeof ThrottleGovernor>[0] = {}) =>
  new ThrottleGovernor({ baseDelayMs: 1, maxDelayMs: 5, retryAfterMarginMs: 0, ...extra });

const makeClient = (url: string, extra: Partial<ConstructorParameters<typeof DataverseClient>[0]> = {}) =>
  new DataverseClient({
    baseUrl: url,
    tokenProvider: new FakeTokens(['t1', 't2']),
    governor: fastGovernor(),
    ...extra,
  });

/** A client for an https org with a mock fetch: for what it must refuse before sending anything. */
const offlineClient = () => {
  const fetchMock = jest.fn();
  return { fetchMock, client: makeClient('https://org.crm.dynamics.com', { fetch: fetchMock }) };
};

const contactId = '0a1b2c3d-0000-4000-8000-000000000001';

describe('DataverseClient request pipeline', () => {
  it('sends the standard header set', async () => {
    const fx = await startFixture((_req, res) => json(res, 200, { value: [] }));
    const client = makeClient(fx.url);
    await client.get('contacts', { $select: 'fullname' });
    await client.create('contacts', { lastname: 'x' }).catch(() => undefined);
    const [get, post] = fx.seen;
    expect(get?.url).toBe('/api/data/v9.2/contacts?$select=fullname');
    expect(get?.headers).toMatchObject({
      accept: 'application/json',
      'odata-maxversion': '4.0',
      'odata-version': '4.0',
      authorization: 'Bearer t1',
    });
    expect(get?.headers['content-type']).toBeUndefined();
    expect(post?.method).toBe('POST');
    expect(post?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(post?.body ?? '')).toEqual({ lastname: 'x' });
  });

  it('refreshes the token exactly once on 401 and retries', async () => {
    const fx = await startFixture((req, res) => {
      if (req.headers.authorization === 'Bearer t2') json(res, 200, { ok: true });
      else
        json(
          res,
          401,
          { error: { code: '', message: 'expired' } },
          { 'WWW-Authenticate': 'Bearer authorization_uri=x' },
        );
    });
    const tokens = new FakeTokens(['t1', 't2']);
    const client = makeClient(fx.url, { tokenProvider: tokens });
    await expect(client.get('WhoAmI')).resolves.toEqual({ ok: true });
    expect(tokens.calls).toEqual([{}, { forceRefresh: true }]);
    expect(fx.seen.map((s) => s.headers.authorization)).toEqual(['Bearer t1', 'Bearer t2']);
  });

  it('gives up with unauthorized when the refreshed token is refused too', async () => {
    const fx = await startFixture((_req, res) => json(res, 401, { error: { code: '', message: 'nope' } }));
    const tokens = new FakeTokens(['t1', 't2']);
    const client = makeClient(fx.url, { tokenProvider: tokens });
    const error = await client.get('WhoAmI').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unauthorized', retryable: false, status: 401 });
    expect(fx.seen).toHaveLength(2);
    expect(String((error as Error).message)).not.toContain('t2');
  });

  it('retries 5xx with backoff and then succeeds', async () => {
    const fx = await startFixture((_req, res, n) => {
      if (n <= 2) json(res, n === 1 ? 503 : 502, { error: { code: '', message: 'busy' } });
      else json(res, 200, { value: [{ a: 1 }] });
    });
    const client = makeClient(fx.url);
    await expect(client.get('contacts')).resolves.toEqual({ value: [{ a: 1 }] });
    expect(fx.seen).toHaveLength(3);
  });

  it('honours Retry-After over HTTP (no request before the deadline)', async () => {
    const times: number[] = [];
    const fx = await startFixture((_req, res, n) => {
      times.push(Date.now());
      if (n === 1) {
        json(
          res,
          429,
          { error: { code: '0x80072322', message: 'Number of requests exceeded' } },
          { 'Retry-After': '1' },
        );
      } else json(res, 200, { ok: n });
    });
    const client = makeClient(fx.url);
    await expect(client.get('contacts')).resolves.toEqual({ ok: 2 });
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it('survives connection resets and reports timeouts as retryable', async () => {
    const fx = await startFixture((_req, res, n) => {
      if (n <= 2) res.socket?.destroy();
      else json(res, 200, { ok: true });
    });
    const client = makeClient(fx.url);
    await expect(client.get('contacts')).resolves.toEqual({ ok: true });
    expect(fx.seen).toHaveLength(3);

    const silent = await startFixture(() => undefined);
    const slow = makeClient(silent.url, { requestTimeoutMs: 50, governor: fastGovernor({ maxAttempts: 2 }) });
    const started = Date.now();
    const error = await slow.get('contacts').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'timeout', retryable: true, attempts: 2 });
    expect(silent.seen).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('does not resend a POST after a connection reset (it may have been applied)', async () => {
    const fx = await startFixture((_req, res) => {
      res.socket?.destroy();
    });
    const client = makeClient(fx.url);
    const error = await client.create('contacts', { lastname: 'x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'network', retryable: true });
    expect(fx.seen).toHaveLength(1);
  });

  it('maps service errors with the column of an unknown-column error', async () => {
    const fx = await startFixture((_req, res) =>
      json(res, 400, {
        error: {
          code: '0x80060888',
          message: "Could not find a property named 'new_gone' on type 'Microsoft.Dynamics.CRM.contact'.",
        },
      }),
    );
    const client = makeClient(fx.url);
    const error = await rejectsWithDataverseError(client.get('contacts', { $select: 'new_gone' }), {
      code: 'unknown_column',
      column: 'new_gone',
      entity: 'contact',
      dataverseCode: '0x80060888',
    });
    expect(error.message).not.toContain('$select');
    expect(fx.seen).toHaveLength(1);
  });

  it('keeps the in-flight count under the cap for 200 concurrent calls over HTTP', async () => {
    const fx = await startFixture(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 2));
      json(res, 200, { ok: true });
    });
    const governor = fastGovernor({ maxConcurrency: 6 });
    const client = makeClient(fx.url, { governor });
    await Promise.all(Array.from({ length: 200 }, () => client.get('WhoAmI')));
    expect(fx.seen).toHaveLength(200);
    expect(fx.maxConcurrent).toBeLessThanOrEqual(6);
    expect(governor.counters().maxInFlight).toBe(6);
  });
});

describe('DataverseClient links and origins', () => {
  it('follows absolute nextLinks exactly as given', async () => {
    let base = '';
    const next = () =>
      `${base}/api/data/v9.2/contacts?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E`;
    const fx = await startFixture((req, res) => {
      if (req.url.includes('skiptoken')) json(res, 200, { value: [{ n: 2 }] });
      else json(res, 200, { value: [{ n: 1 }], '@odata.nextLink': next() });
    });
    base = fx.url;
    const client = makeClient(fx.url);
    const rows = [];
    for await (const row of client.getAll('contacts', { $select: 'fullname' }, { pageSize: 1 }))
      rows.push(row);
    expect(rows).toEqual([{ n: 1 }, { n: 2 }]);
    expect(fx.seen[1]?.url).toBe(next().slice(base.length));
    expect(fx.seen.map((s) => s.headers.prefer)).toEqual(['odata.maxpagesize=1', 'odata.maxpagesize=1']);
  });

  it('refuses to send the token to another origin', async () => {
    const { client, fetchMock } = offlineClient();
    for (const link of [
      'https://evil.example.com/api/data/v9.2/contacts?$skiptoken=x',
      'http://org.crm.dynamics.com/api/data/v9.2/contacts',
      'https://org.crm.dynamics.com:444/api/data/v9.2/contacts',
      'https://org.crm.dynamics.com.evil.com/api/data/v9.2/contacts',
    ]) {
      await expect(client.getPage(link, undefined)).rejects.toMatchObject({
        code: 'foreign_origin',
        retryable: false,
      });
    }
    await expect(client.request({ method: 'GET', path: '//evil.example.com/x' })).rejects.toMatchObject({
      code: 'foreign_origin',
    });
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('refuses a plain-http org URL that is not loopback', () => {
    expect(
      () =>
        new DataverseClient({
          baseUrl: 'http://org.crm.dynamics.com',
          tokenProvider: new FakeTokens([]),
          governor: fastGovernor(),
        }),
    ).toThrow(/https/);
  });
});

describe('DataverseClient helpers', () => {
  it('create returns the id from OData-EntityId, or the row with return=representation', async () => {
    const fx = await startFixture((req, res) => {
      if (req.headers.prefer === 'return=representation')
        json(res, 201, { contactid: contactId, '@odata.etag': 'W/"7"' });
      else {
        res.writeHead(204, {
          'OData-EntityId': `${fx.url}/api/data/v9.2/contacts(${contactId.toUpperCase()})`,
        });
        res.end();
      }
    });
    const client = makeClient(fx.url);
    await expect(client.create('contacts', { lastname: 'a' })).resolves.toEqual({ id: contactId });
    const withRow = await client.create(
      'contacts',
      { lastname: 'a' },
      { returnRepresentation: true, keyColumn: 'contactid' },
    );
    expect(withRow.id).toBe(contactId);
    expect(withRow.etag).toBe('W/"7"');
    expect(withRow.row?.['contactid']).toBe(contactId);
  });

  it('update, upsert, createWithId and delete send the right conditions', async () => {
    const fx = await startFixture((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    const client = makeClient(fx.url);
    await client.update('contacts', contactId, { a: 1 });
    await client.update('contacts', contactId, { a: 1 }, { etag: 'W/"12"' });
    await client.upsert('contacts', contactId, { a: 1 });
    await client.createWithId('contacts', contactId, { a: 1 });
    await client.delete('contacts', contactId, { etag: 'W/"13"' });
    await client.update('contacts', { emailaddress1: "o'n@x.com" }, { a: 1 });
    const summary = fx.seen.map((s) => [s.method, s.url, s.headers['if-match'], s.headers['if-none-match']]);
    const path = `/api/data/v9.2/contacts(${contactId})`;
    expect(summary).toEqual([
      ['PATCH', path, '*', undefined],
      ['PATCH', path, 'W/"12"', undefined],
      ['PATCH', path, undefined, undefined],
      ['PATCH', path, undefined, '*'],
      ['DELETE', path, 'W/"13"', undefined],
      ['PATCH', "/api/data/v9.2/contacts(emailaddress1='o''n@x.com')", '*', undefined],
    ]);
    await expect(client.update('contacts', "x') or ('1", {})).rejects.toThrow(/GUID/);
  });

  it('count, whoAmI and getAll', async () => {
    const fx = await startFixture((req, res) => {
      if (req.url.endsWith('/$count')) {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('\uFEFF42');
      } else json(res, 200, { BusinessUnitId: 'b', UserId: 'u', OrganizationId: 'o' });
    });
    const client = makeClient(fx.url);
    await expect(client.count('contacts')).resolves.toBe(42);
    await expect(client.whoAmI()).resolves.toEqual({ BusinessUnitId: 'b', UserId: 'u', OrganizationId: 'o' });
  });

  it('executeBatch decodes a stopped batch answered with 400', async () => {
    const fx = await startFixture((req, res) => {
      const boundary = 'batchresponse_r1';
      res.writeHead(400, { 'Content-Type': `multipart/mixed; boundary=${boundary}` });
      res.end(
        [
          `--${boundary}`,
          'Content-Type: application/http',
          'Content-Transfer-Encoding: binary',
          '',
          'HTTP/1.1 204 No Content',
          '',
          '',
          `--${boundary}`,
          'Content-Type: application/http',
          'Content-Transfer-Encoding: binary',
          '',
          'HTTP/1.1 412 Precondition Failed',
          'Content-Type: application/json; odata.metadata=minimal',
          '',
          JSON.stringify({ error: { code: '0x80060882', message: 'version mismatch' } }),
          `--${boundary}--`,
          '',
        ].join('\r\n'),
      );
      expect(req.headers['content-type']).toMatch(/^multipart\/mixed; boundary=batch_/);
    });
    const client = makeClient(fx.url);
    const results = await client.executeBatch([
      { method: 'PATCH', url: `contacts(${contactId})`, body: { a: 1 } },
      { method: 'PATCH', url: `contacts(${contactId})`, body: { a: 2 }, headers: { 'If-Match': 'W/"1"' } },
      { method: 'DELETE', url: `contacts(${contactId})` },
    ]);
    expect(results.map((r) => [r.status, r.executed])).toEqual([
      [204, true],
      [412, true],
      [0, false],
    ]);
    expect(fx.seen[0]?.url).toBe('/api/data/v9.2/$batch');
    expect(fx.seen[0]?.headers.prefer).toBeUndefined();
    expect(fx.seen[0]?.body).toContain(`PATCH ${fx.url}/api/data/v9.2/contacts(${contactId}) HTTP/1.1`);

    await client
      .executeBatch([{ method: 'DELETE', url: `contacts(${contactId})` }], {
        continueOnError: true,
        changesets: 'single',
      })
      .catch(() => undefined);
    expect(fx.seen[1]?.headers.prefer).toBe('odata.continue-on-error');
    expect(fx.seen[1]?.body).toContain('boundary=changeset_');
  });

  it('refuses a batch over 1000 requests without sending', async () => {
    const { client, fetchMock } = offlineClient();
    const many = Array.from({ length: 1001 }, () => ({
      method: 'DELETE' as const,
      url: `contacts(${contactId})`,
    }));
    await expect(client.executeBatch(many)).rejects.toMatchObject({ code: 'batch_too_large' });
    expect(fetchMock).not.toHaveBeenCalled();
  });
});
