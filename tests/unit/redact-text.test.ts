import { loadEnv } from '../../shared/config/env.schema';
import { isSecretKey, redact, redactSecrets, redactSettingValue } from '../../shared/errors/redact.text';

const COSMOS_CONNECTION =
  'AccountEndpoint=https://acct.documents.azure.com:443/;AccountKey=c2VjcmV0LWtleS1iYXNlNjQ9PQ==;';

describe('isSecretKey: a key whose value is a credential, whatever it holds', () => {
  it.each([
    ['clientSecret', true],
    ['client_secret', true],
    ['DATAVERSE_CLIENT_SECRET', true],
    ['password', true],
    ['Password', true],
    ['db_pwd', true],
    ['access_token', true],
    ['refreshToken', true],
    ['AccountKey', true],
    ['SharedAccessKey', true],
    ['apiKey', true],
    ['sig', true],
    ['authorization', true],
    ['client_assertion', true],
    ['credentials', true],
    ['connectionString', true],
    ['SharedAccessKeyName', false],
    ['email', false],
    ['entity', false],
    ['sv', false],
    ['design', false],
  ])('%s -> %s', (key, secret) => {
    expect(isSecretKey(key)).toBe(secret);
  });
});

describe('redactSecrets: credentials in free text', () => {
  it.each([
    ['a bearer token', 'Authorization: Bearer abc.def-ghi', 'abc.def', 'Bearer [redacted]'],
    ['a JWT', 'token eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.sgn', 'eyJhbGciOiJIUzI1', '[redacted-jwt]'],
    ['a Cosmos key', COSMOS_CONNECTION, 'c2VjcmV0', 'AccountKey=[redacted]'],
    [
      'a Service Bus key',
      'Endpoint=sb://ns/;SharedAccessKeyName=root;SharedAccessKey=abc123=',
      'abc123',
      'SharedAccessKeyName=root',
    ],
    ['a SAS signature', 'https://a.blob.core.windows.net/c?sv=2020&sig=AbC%2Fd', 'AbC%2Fd', 'sv=2020'],
    ['a form secret', 'client_secret=hunter2&x=1', 'hunter2', 'x=1'],
    ['a camelCase JSON secret', '{"clientSecret":"hunter2","entity":"lead"}', 'hunter2', '"entity":"lead"'],
    ['a JSON password', '{"password": "p@ss w0rd"}', 'p@ss w0rd', '"password": "[redacted]"'],
    ['a JSON token', '{"access_token":"tok"}', '"tok"', 'access_token'],
    [
      'a URL password',
      'GET https://bob:hunter2@org.crm.dynamics.com/api',
      'hunter2',
      'org.crm.dynamics.com/api',
    ],
    ['a query token', 'https://host/cb?access_token=tok123&state=1', 'tok123', 'state=1'],
  ])('%s', (_what, text, secret, kept) => {
    const out = redactSecrets(text);
    expect(out).not.toContain(secret);
    expect(out).toContain(kept);
  });

  it('leaves a setting name followed by its explanation alone', () => {
    const text = 'DATAVERSE_CLIENT_SECRET: set DATAVERSE_CLIENT_SECRET or DATAVERSE_CLIENT_CERTIFICATE_PATH';
    expect(redactSecrets(text)).toBe(text);
  });
});

describe('redactSettingValue: what an error may show of a setting', () => {
  it.each([
    ['plain text is shown', 'not a url', 'not a url'],
    ['a URL without parts that can hold a secret', 'ftp://org.example.com/x', 'ftp://org.example.com/x'],
    [
      'userinfo is dropped',
      'https://admin:hunter2@org.crm.dynamics.com',
      'https://[redacted]@org.crm.dynamics.com',
    ],
    ['a user name alone is dropped too', 'http://admin@org', 'http://[redacted]@org'],
    ['the query string is dropped', 'https://org/x?sig=abc&sv=1', 'https://org/x?[redacted]'],
    ['the fragment is dropped', 'https://org/x#access_token=abc', 'https://org/x#[redacted]'],
    [
      'a connection string keeps its names and endpoint',
      COSMOS_CONNECTION,
      'AccountEndpoint=https://acct.documents.azure.com:443/;AccountKey=[redacted];',
    ],
    ['a long value is cut', 'x'.repeat(300), `${'x'.repeat(79)}…`],
  ])('%s', (_what, value, shown) => {
    expect(redactSettingValue(value)).toBe(shown);
  });
});

describe('redact: values by key name as well as by pattern', () => {
  it('hides every value under a secret-like key, at any depth', () => {
    const out = JSON.stringify(
      redact({ entity: 'lead', clientSecret: 'hunter2', nested: { password: 'p', apiKey: 3 } }),
    );
    expect(out).not.toMatch(/hunter2|"p"|3/);
    expect(out).toContain('"entity":"lead"');
  });
});

describe('start-up and config check errors never echo a credential', () => {
  const dataverse = {
    DATAVERSE_TENANT_ID: 't',
    DATAVERSE_CLIENT_ID: 'c',
    DATAVERSE_CLIENT_SECRET: 'unused-secret',
  };
  const messageOf = (env: Record<string, string>, section: 'dataverse' | 'cosmos'): string => {
    try {
      loadEnv(env, [section]);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('expected the settings to be refused');
  };

  it.each([
    [
      'a Cosmos connection string in COSMOS_ENDPOINT',
      { COSMOS_ENDPOINT: COSMOS_CONNECTION },
      'cosmos' as const,
      'c2VjcmV0',
      /COSMOS_ENDPOINT: .*connection string.*COSMOS_KEY/,
    ],
    [
      'a password in DATAVERSE_URL',
      { ...dataverse, DATAVERSE_URL: 'https://admin:hunter2@contoso.crm.dynamics.com' },
      'dataverse' as const,
      'hunter2',
      /DATAVERSE_URL: .*user name or password/,
    ],
    [
      'a password in an invalid DATAVERSE_URL',
      { ...dataverse, DATAVERSE_URL: 'htps://admin:hunter2@contoso.crm.dynamics.com' },
      'dataverse' as const,
      'hunter2',
      /DATAVERSE_URL: must be an https:\/\/ URL/,
    ],
    [
      'a secret in a query string',
      { ...dataverse, DATAVERSE_URL: 'https://contoso.crm.dynamics.com/?sig=s3cr3tsig' },
      'dataverse' as const,
      's3cr3tsig',
      /DATAVERSE_URL: .*query string/,
    ],
    [
      'a secret in the token endpoint query string',
      {
        ...dataverse,
        DATAVERSE_URL: 'https://o',
        DATAVERSE_TOKEN_ENDPOINT: 'https://login/t?client_secret=zz9',
      },
      'dataverse' as const,
      'zz9',
      /DATAVERSE_TOKEN_ENDPOINT: .*query string/,
    ],
  ])('%s', (_what, env, section, secret, named) => {
    const message = messageOf(env, section);
    expect(message).not.toContain(secret);
    expect(message).toMatch(named);
  });
});
