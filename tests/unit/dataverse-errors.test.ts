import {
  DataverseError,
  mapHttpError,
  parseRetryAfter,
  parseUnknownColumn,
} from '../../shared/dataverse/dataverse.errors';
import { redactSecrets } from '../../shared/errors/redact.text';

const headers = (values: Record<string, string> = {}) => new Headers(values);
const body = (code: string, message: string) => JSON.stringify({ error: { code, message } });
const ctx = {
  method: 'PATCH',
  path: '/api/data/v9.2/contacts(00000000-0000-0000-0000-000000000001)',
  nowMs: 0,
};

describe('mapHttpError', () => {
  const cases: [string, number, string, string, string, boolean][] = [
    ['not found', 404, '0x80040217', 'contact With Id = 0000 Does Not Exist', 'not_found', false],
    [
      'unknown column',
      400,
      '0x80060888',
      "Could not find a property named 'new_gone' on type 'Microsoft.Dynamics.CRM.contact'.",
      'unknown_column',
      false,
    ],
    [
      'version mismatch',
      412,
      '0x80060882',
      "The version of the existing record doesn't match the RowVersion property provided.",
      'precondition_failed',
      false,
    ],
    [
      'create-only on existing row',
      412,
      '',
      'A record with matching key values already exists.',
      'already_exists',
      false,
    ],
    [
      'create-only, duplicate key code',
      412,
      '0x80040237',
      'Cannot insert duplicate key.',
      'already_exists',
      false,
    ],
    [
      'privilege denied',
      403,
      '0x80040220',
      'Principal user is missing prvReadContact privilege',
      'forbidden',
      false,
    ],
    [
      'duplicate detection',
      500,
      '0x80040333',
      'A record was not created or updated because a duplicate exists',
      'duplicate',
      false,
    ],
    [
      'tracking expired',
      400,
      '0x80044352',
      'Version stamp associated with the client has expired. Please perform a full sync.',
      'change_tracking_expired',
      false,
    ],
    [
      'tracking disabled',
      400,
      '0x80072491',
      "Entity new_thing isn't enabled for change tracking.",
      'change_tracking_disabled',
      false,
    ],
    [
      'tracking refusal of $filter',
      400,
      '0x80060888',
      'The "$filter" query parameter isn\'t supported when Change Tracking is enabled.',
      'validation',
      false,
    ],
    [
      'request limit',
      429,
      '0x80072322',
      'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
      'throttled',
      true,
    ],
    [
      'execution time limit',
      429,
      '0x80072321',
      'Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds',
      'throttled',
      true,
    ],
    [
      'concurrency limit',
      429,
      '0x80072326',
      'Number of concurrent requests exceeded the limit of 52.',
      'throttled',
      true,
    ],
    ['unauthorized', 401, '', '', 'unauthorized', false],
    ['generic 500', 500, '0x80040216', 'An unexpected error occurred.', 'server_error', true],
    ['bad gateway', 502, '', '', 'server_error', true],
    ['unavailable', 503, '', '', 'server_error', true],
    ['gateway timeout', 504, '', '', 'server_error', true],
    ['not implemented', 501, '', '', 'server_error', false],
    ['plain validation', 400, '0x80040203', 'Invalid argument.', 'validation', false],
    ['method not allowed', 405, '', '', 'client_error', false],
  ];

  it.each(cases)('%s -> code', (_name, status, dvCode, message, code, retryable) => {
    const error = mapHttpError(status, headers(), body(dvCode, message), ctx);
    expect(error).toBeInstanceOf(DataverseError);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.status).toBe(status);
    if (dvCode !== '') expect(error.dataverseCode).toBe(dvCode);
    else expect(error.dataverseCode).toBeUndefined();
  });

  it('keeps the column and table of an unknown-column error', () => {
    const error = mapHttpError(
      400,
      headers(),
      body(
        '0x80060888',
        "Could not find a property named 'new_gone' on type 'Microsoft.Dynamics.CRM.contact'.",
      ),
      ctx,
    );
    expect(error.column).toBe('new_gone');
    expect(error.entity).toBe('contact');
  });

  it('reads Retry-After on 429', () => {
    const error = mapHttpError(429, headers({ 'Retry-After': '7' }), body('0x80072322', 'x'), ctx);
    expect(error.retryAfterMs).toBe(7000);
    const noHeader = mapHttpError(429, headers(), body('0x80072322', 'x'), ctx);
    expect(noHeader.retryAfterMs).toBeUndefined();
  });

  it('maps by message when the code is empty, and survives non-JSON bodies', () => {
    expect(
      mapHttpError(400, headers(), body('', 'Version stamp associated with the client has expired.'), ctx)
        .code,
    ).toBe('change_tracking_expired');
    const html = mapHttpError(502, headers(), '<html>Bad Gateway</html>', ctx);
    expect(html.code).toBe('server_error');
    expect(html.message).toContain('502');
  });

  it('never puts a query string or a token in the message', () => {
    const error = mapHttpError(
      401,
      headers(),
      body('', 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig'),
      {
        method: 'GET',
        path: '/api/data/v9.2/contacts',
      },
    );
    expect(error.message).not.toContain('eyJ');
    expect(error.message).toContain('/api/data/v9.2/contacts');
  });
});

describe('parseUnknownColumn', () => {
  it('parses column and entity', () => {
    expect(
      parseUnknownColumn("Could not find a property named 'x' on type 'Microsoft.Dynamics.CRM.contact'."),
    ).toEqual({
      column: 'x',
      entity: 'contact',
    });
    expect(
      parseUnknownColumn(
        "Could not find a property named 'new_a_b1' on type 'Microsoft.Dynamics.CRM.new_custom'.",
      ),
    ).toEqual({
      column: 'new_a_b1',
      entity: 'new_custom',
    });
    expect(parseUnknownColumn('Something else')).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  it('handles seconds, fractions, dates and garbage', () => {
    expect(parseRetryAfter('2', 0)).toBe(2000);
    expect(parseRetryAfter('0.5', 0)).toBe(500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });
});

describe('redactSecrets', () => {
  it('removes bearer tokens and secrets', () => {
    const out = redactSecrets(
      'Authorization: Bearer abc.def-ghi client_secret=hunter2&x=1 "access_token":"tok"',
    );
    expect(out).not.toContain('abc.def');
    expect(out).not.toContain('hunter2');
    expect(out).not.toContain('"tok"');
    expect(out).toContain('x=1');
  });

  it('is applied to every DataverseError message', () => {
    const error = new DataverseError('failed with Bearer sekrit', { code: 'network', retryable: true });
    expect(error.message).not.toContain('sekrit');
    expect(JSON.stringify(error)).not.toContain('sekrit');
  });
});
