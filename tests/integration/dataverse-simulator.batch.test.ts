import { useSimulatorWithApi } from './dataverse-simulator.helpers';

interface Part {
  method: string;
  url: string;
  body?: unknown;
  contentId?: string;
}

const httpPart = (p: Part): string =>
  [
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    ...(p.contentId ? [`Content-ID: ${p.contentId}`] : []),
    '',
    `${p.method} ${p.url} HTTP/1.1`,
    ...(p.body !== undefined ? ['Content-Type: application/json'] : ['Accept: application/json']),
    '',
    p.body !== undefined ? JSON.stringify(p.body) : '',
  ].join('\r\n');

/** Builds a multipart/mixed batch body; an array item is a changeset. */
const buildBatch = (items: (Part | Part[])[]): { boundary: string; body: string } => {
  const boundary = 'batch_test123';
  const out: string[] = [];
  items.forEach((item, i) => {
    out.push(`--${boundary}`);
    if (!Array.isArray(item)) {
      out.push(httpPart(item));
      return;
    }
    const cs = `changeset_test${i}`;
    out.push(`Content-Type: multipart/mixed;boundary=${cs}`, '');
    for (const p of item) out.push(`--${cs}`, httpPart(p));
    out.push(`--${cs}--`);
  });
  out.push(`--${boundary}--`, '');
  return { boundary, body: out.join('\r\n') };
};

interface ResponsePart {
  status: number;
  contentId?: string;
  body: string;
  inChangeset: boolean;
}

const parseResponse = (contentType: string, body: string): ResponsePart[] => {
  const boundary = /boundary=([^;\s]+)/.exec(contentType)?.[1] as string;
  const parts: ResponsePart[] = [];
  const walk = (text: string, b: string, inChangeset: boolean) => {
    const chunks = text.split(`--${b}`).slice(1);
    for (const chunk of chunks) {
      if (chunk.startsWith('--')) break;
      const nested = /Content-Type: multipart\/mixed; boundary=(\S+)/.exec(chunk);
      if (nested) {
        walk(chunk, nested[1] as string, true);
        continue;
      }
      const status = Number(/HTTP\/1\.1 (\d{3})/.exec(chunk)?.[1]);
      const contentId = /Content-ID: (\S+)/.exec(chunk)?.[1];
      const bodyStart = chunk.indexOf('\r\n\r\n', chunk.indexOf('HTTP/1.1'));
      parts.push({
        status,
        ...(contentId ? { contentId } : {}),
        body: chunk.slice(bodyStart + 4).trim(),
        inChangeset,
      });
    }
  };
  walk(body, boundary, false);
  return parts;
};

describe('dataverse simulator: $batch', () => {
  const { sim, api } = useSimulatorWithApi({ records: 100, seed: 9 });

  const send = async (items: (Part | Part[])[], prefer?: string) => {
    const { boundary, body } = buildBatch(items);
    const r = await api().call('POST', '$batch', {
      raw: body,
      headers: {
        'Content-Type': `multipart/mixed;boundary=${boundary}`,
        ...(prefer ? { Prefer: prefer } : {}),
      },
    });
    const type = r.headers.get('content-type') ?? '';
    return {
      status: r.status,
      type,
      text: r.text,
      parts: type.startsWith('multipart/mixed') ? parseResponse(type, r.text) : [],
    };
  };

  it('answers with batchresponse_/changesetresponse_ boundaries, in order, Content-ID references resolved', async () => {
    const res = await send([
      [
        { method: 'POST', url: `${sim().apiUrl}accounts`, body: { name: 'Batch Co' }, contentId: '1' },
        {
          method: 'POST',
          url: '/api/data/v9.2/contacts',
          body: { lastname: 'In Batch', 'parentcustomerid_account@odata.bind': '$1' },
          contentId: '2',
        },
        { method: 'PATCH', url: '$1', body: { websiteurl: 'https://batch.example' }, contentId: '3' },
      ],
      { method: 'GET', url: "accounts?$select=name&$filter=name eq 'Batch Co'" },
    ]);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^multipart\/mixed; boundary=batchresponse_[0-9a-f-]{36}$/);
    expect(res.text).toMatch(/--changesetresponse_[0-9a-f-]{36}/);
    expect(res.parts.map((p) => [p.status, p.contentId, p.inChangeset])).toEqual([
      [204, '1', true],
      [204, '2', true],
      [204, '3', true],
      [200, undefined, false],
    ]);
    const found = JSON.parse(res.parts[3]?.body as string).value as { accountid: string }[];
    expect(found).toHaveLength(1);
    const accountId = found[0]?.accountid as string;
    expect(sim().control.getRow('account', accountId)?.websiteurl).toBe('https://batch.example');
    const contact = sim()
      .control.listRows('contact')
      .find((c) => c.lastname === 'In Batch');
    expect(contact?._parentcustomerid_value).toBe(accountId);
  });

  it('a failed changeset rolls back entirely and stops the batch by default (outer 400)', async () => {
    const before = sim().control.count('account');
    const res = await send([
      [
        { method: 'POST', url: 'accounts', body: { name: 'Gone 1' }, contentId: '1' },
        { method: 'POST', url: 'accounts', body: { name: 'Gone 2', numberofemployees: 'x' }, contentId: '2' },
      ],
      { method: 'POST', url: 'accounts', body: { name: 'Never runs' } },
    ]);
    expect(res.status).toBe(400);
    expect(res.parts).toHaveLength(1);
    expect(res.parts[0]).toMatchObject({ status: 400, contentId: '2', inChangeset: false });
    expect(JSON.parse(res.parts[0]?.body as string).error.code).toBe('0x80048d19');
    expect(sim().control.count('account')).toBe(before);
  });

  it('odata.continue-on-error runs every request and reports each status (outer 200)', async () => {
    const before = sim().control.count('contact');
    const res = await send(
      [
        { method: 'POST', url: 'contacts', body: { lastname: 'Ok 1' } },
        { method: 'PATCH', url: 'contacts(00000000-0000-4000-8000-00000000dead)', body: { lastname: 'x' } },
        { method: 'DELETE', url: 'contacts(00000000-0000-4000-8000-00000000beef)' },
        { method: 'POST', url: 'contacts', body: { lastname: 'Ok 2', nosuch: 1 } },
        { method: 'POST', url: 'contacts', body: { lastname: 'Ok 3' } },
      ],
      'odata.continue-on-error',
    );
    expect(res.status).toBe(200);
    expect(res.parts.map((p) => p.status)).toEqual([204, 204, 404, 400, 204]);
    // The PATCH upserted the unknown id.
    expect(sim().control.count('contact')).toBe(before + 3);
  });

  it('without continue-on-error stops at the first failure outside changesets', async () => {
    const res = await send([
      { method: 'POST', url: 'contacts', body: { lastname: 'Before' } },
      { method: 'DELETE', url: 'contacts(00000000-0000-4000-8000-00000000beef)' },
      { method: 'POST', url: 'contacts', body: { lastname: 'After' } },
    ]);
    expect(res.status).toBe(400);
    expect(res.parts.map((p) => p.status)).toEqual([204, 404]);
    expect(
      sim()
        .control.listRows('contact')
        .some((c) => c.lastname === 'After'),
    ).toBe(false);
  });

  it('refuses GET inside a changeset', async () => {
    const res = await send([[{ method: 'GET', url: 'accounts?$top=1' }]]);
    expect(res.status).toBe(400);
    expect(res.parts[0]?.status).toBe(400);
  });

  it('caps a batch at 1000 requests and counts a batch as one request', async () => {
    const many: Part[] = Array.from({ length: 1001 }, () => ({ method: 'GET', url: 'WhoAmI' }));
    const tooMany = await send(many);
    expect(tooMany.status).toBe(400);
    expect(JSON.parse(tooMany.text).error.message).toBe(
      'The number of requests in the batch exceeds the limit of 1000.',
    );

    sim().control.resetCounters();
    const ok = await send(many.slice(0, 1000));
    expect(ok.status).toBe(200);
    expect(ok.parts).toHaveLength(1000);
    expect(sim().control.counters().total.requests).toBe(1);
  });
});
