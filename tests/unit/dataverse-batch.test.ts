import {
  boundaryOf,
  type BatchEntry,
  decodeBatchResponse,
  encodeBatch,
  matchBatchResults,
  MAX_BATCH_REQUESTS,
} from '../../shared/dataverse/batch.codec';
import { DataverseError } from '../../shared/dataverse/dataverse.errors';

const apiUrl = 'https://org.crm.dynamics.com/api/data/v9.2/';
let counter = 0;
const newId = () => `id${++counter}`;
const contactId = '11111111-2222-3333-4444-555555555555';

beforeEach(() => {
  counter = 0;
});

describe('encodeBatch', () => {
  it('encodes parts and changesets with Content-ID, CRLF and absolute URLs', () => {
    const entries: BatchEntry[] = [
      { method: 'GET', url: 'contacts?$select=fullname' },
      {
        changeset: [
          { method: 'POST', url: 'contacts', body: { lastname: 'A' } },
          {
            method: 'PATCH',
            url: `contacts(${contactId})`,
            body: { lastname: 'B' },
            headers: { 'If-Match': 'W/"5"' },
          },
          { method: 'POST', url: '$1/Contact_Tasks', body: { subject: 'x' } },
        ],
      },
    ];
    const encoded = encodeBatch(entries, { apiUrl, newId });
    expect(encoded.boundary).toBe('batch_id1');
    expect(encoded.contentType).toBe('multipart/mixed; boundary=batch_id1');
    expect(encoded.requestCount).toBe(4);
    const expected = [
      '--batch_id1',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      '',
      'GET https://org.crm.dynamics.com/api/data/v9.2/contacts?$select=fullname HTTP/1.1',
      'Accept: application/json',
      '',
      '--batch_id1',
      'Content-Type: multipart/mixed; boundary=changeset_id2',
      '',
      '--changeset_id2',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 1',
      '',
      'POST https://org.crm.dynamics.com/api/data/v9.2/contacts HTTP/1.1',
      'Content-Type: application/json',
      '',
      '{"lastname":"A"}',
      '--changeset_id2',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 2',
      '',
      `PATCH https://org.crm.dynamics.com/api/data/v9.2/contacts(${contactId}) HTTP/1.1`,
      'If-Match: W/"5"',
      'Content-Type: application/json',
      '',
      '{"lastname":"B"}',
      '--changeset_id2',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 3',
      '',
      'POST $1/Contact_Tasks HTTP/1.1',
      'Content-Type: application/json',
      '',
      '{"subject":"x"}',
      '--changeset_id2--',
      '--batch_id1--',
      '',
    ].join('\r\n');
    expect(encoded.body).toBe(expected);
  });

  it('refuses more than 1000 requests before sending, GET in a changeset, and header injection', () => {
    const many: BatchEntry[] = Array.from({ length: MAX_BATCH_REQUESTS + 1 }, () => ({
      method: 'GET',
      url: 'WhoAmI',
    }));
    expect(() => encodeBatch(many, { apiUrl })).toThrow(DataverseError);
    try {
      encodeBatch(many, { apiUrl });
    } catch (error) {
      expect((error as DataverseError).code).toBe('batch_too_large');
    }
    expect(encodeBatch(many.slice(1), { apiUrl }).requestCount).toBe(1000);
    expect(() => encodeBatch([{ changeset: [{ method: 'GET', url: 'contacts' }] }], { apiUrl })).toThrow(
      /GET/,
    );
    expect(() =>
      encodeBatch([{ method: 'PATCH', url: 'x', headers: { 'If-Match': '*\r\nX-Evil: 1' }, body: {} }], {
        apiUrl,
      }),
    ).toThrow(/line break/);
    expect(() => encodeBatch([], { apiUrl })).toThrow();
  });
});

const responseOf = (status: number, text: string, extraHeaders: string[], body?: unknown) => [
  'Content-Type: application/http',
  'Content-Transfer-Encoding: binary',
  '',
  `HTTP/1.1 ${status} ${text}`,
  ...extraHeaders,
  '',
  body === undefined ? '' : JSON.stringify(body),
];

describe('decodeBatchResponse', () => {
  const batchBoundary = 'batchresponse_aaa';
  const csBoundary = 'changesetresponse_bbb';

  const buildResponse = (eol: string) =>
    [
      `--${batchBoundary}`,
      ...responseOf(
        200,
        'OK',
        ['Content-Type: application/json; odata.metadata=minimal', 'OData-Version: 4.0'],
        {
          value: [{ fullname: 'A' }],
        },
      ),
      `--${batchBoundary}`,
      `Content-Type: multipart/mixed; boundary=${csBoundary}`,
      '',
      `--${csBoundary}`,
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 1',
      '',
      'HTTP/1.1 204 No Content',
      'OData-Version: 4.0',
      `OData-EntityId: ${apiUrl}contacts(${contactId})`,
      '',
      '',
      `--${csBoundary}`,
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 2',
      '',
      'HTTP/1.1 204 No Content',
      '',
      '',
      `--${csBoundary}--`,
      `--${batchBoundary}`,
      ...responseOf(404, 'Not Found', ['Content-Type: application/json'], {
        error: { code: '0x80040217', message: 'contact With Id = x Does Not Exist' },
      }),
      `--${batchBoundary}--`,
      '',
    ].join(eol);

  it.each([
    ['CRLF', '\r\n'],
    ['LF', '\n'],
  ])('decodes nested changeset responses (%s)', (_name, eol) => {
    const decoded = decodeBatchResponse(`multipart/mixed; boundary=${batchBoundary}`, buildResponse(eol));
    expect(decoded).toHaveLength(3);
    const [first, second, third] = decoded;
    expect(first).toMatchObject({
      kind: 'response',
      response: { status: 200, body: { value: [{ fullname: 'A' }] } },
    });
    expect(second?.kind).toBe('changeset');
    if (second?.kind !== 'changeset') throw new Error('unreachable');
    expect(second.responses.map((r) => [r.status, r.contentId])).toEqual([
      [204, '1'],
      [204, '2'],
    ]);
    expect(second.responses[0]?.headers['odata-entityid']).toContain(contactId);
    expect(third).toMatchObject({
      kind: 'response',
      response: { status: 404, body: { error: { code: '0x80040217' } } },
    });
  });

  it('finds the boundary in quoted content types and sniffs it when missing', () => {
    expect(boundaryOf('multipart/mixed; boundary="batchresponse_x"')).toBe('batchresponse_x');
    const decoded = decodeBatchResponse(null, buildResponse('\r\n'));
    expect(decoded).toHaveLength(3);
  });

  it('rejects a part without a status line', () => {
    const body = ['--b', 'Content-Type: application/http', '', 'garbage', '--b--'].join('\r\n');
    expect(() => decodeBatchResponse('multipart/mixed;boundary=b', body)).toThrow(/status line/);
  });
});

describe('matchBatchResults', () => {
  const entries: BatchEntry[] = [
    { method: 'PATCH', url: 'contacts(1)', body: {} },
    {
      changeset: [
        { method: 'PATCH', url: 'contacts(2)', body: {}, contentId: '1' },
        { method: 'PATCH', url: 'contacts(3)', body: {}, contentId: '2' },
      ],
    },
    { method: 'DELETE', url: 'contacts(4)' },
  ];
  const ok = { status: 204, statusText: 'No Content', headers: {}, body: undefined };

  it('lines results up with requests and marks a stopped batch', () => {
    const results = matchBatchResults(entries, [
      { kind: 'response', response: ok },
      {
        kind: 'response',
        response: { ...ok, status: 412, contentId: '2', body: { error: { code: '0x80060882' } } },
      },
    ]);
    expect(results.map((r) => [r.index, r.status, r.ok, r.executed, r.rolledBack ?? false])).toEqual([
      [0, 204, true, true, false],
      [1, 412, false, true, true],
      [2, 412, false, true, false],
      [3, 0, false, false, false],
    ]);
  });

  it('uses nested changeset responses when the changeset succeeded', () => {
    const results = matchBatchResults(entries, [
      { kind: 'response', response: ok },
      {
        kind: 'changeset',
        responses: [
          { ...ok, contentId: '2', status: 204, headers: { x: 'second' } },
          { ...ok, contentId: '1', status: 204, headers: { x: 'first' } },
        ],
      },
      { kind: 'response', response: { ...ok, status: 404 } },
    ]);
    expect(results.map((r) => r.headers['x'])).toEqual([undefined, 'first', 'second', undefined]);
    expect(results[3]).toMatchObject({ status: 404, ok: false, executed: true });
  });
});

describe('round trip', () => {
  it('a response built for an encoded batch decodes back in order', () => {
    const encoded = encodeBatch(
      [
        { method: 'GET', url: 'WhoAmI' },
        {
          changeset: [
            { method: 'POST', url: 'contacts', body: { a: 1 } },
            { method: 'DELETE', url: 'contacts(1)' },
          ],
        },
      ],
      { apiUrl },
    );
    // Echo server: answer each encoded request with its own method and Content-ID.
    const reqs = [
      ...encoded.body.matchAll(/(?:Content-ID: (\d+)\r\n\r\n)?(GET|POST|DELETE) (\S+) HTTP\/1\.1/g),
    ];
    expect(reqs.map((m) => m[2])).toEqual(['GET', 'POST', 'DELETE']);
    const part = (method: string, cid: string | undefined) => [
      'Content-Type: application/http',
      ...(cid ? [`Content-ID: ${cid}`] : []),
      '',
      'HTTP/1.1 200 OK',
      'Content-Type: application/json',
      '',
      JSON.stringify({ method }),
    ];
    const body = [
      '--batchresponse_z',
      ...part('GET', undefined),
      '--batchresponse_z',
      'Content-Type: multipart/mixed; boundary=changesetresponse_y',
      '',
      '--changesetresponse_y',
      ...part('POST', '1'),
      '--changesetresponse_y',
      ...part('DELETE', '2'),
      '--changesetresponse_y--',
      '--batchresponse_z--',
    ].join('\r\n');
    const results = matchBatchResults(
      encoded.entries,
      decodeBatchResponse('multipart/mixed; boundary=batchresponse_z', body),
    );
    expect(results.map((r) => (r.body as { method: string }).method)).toEqual(['GET', 'POST', 'DELETE']);
  });
});
