import { loadEnv, SETTING_NAMES, DEFAULT_ENTITIES } from '../../shared/config/env.schema';
import { ConfigError } from '../../shared/config/config.errors';

const dataverse = {
  DATAVERSE_URL: 'https://contoso.crm.dynamics.com/',
  DATAVERSE_TENANT_ID: '00000000-0000-0000-0000-000000000001',
  DATAVERSE_CLIENT_ID: '00000000-0000-0000-0000-000000000002',
  DATAVERSE_CLIENT_SECRET: 's3cr3t-value',
};

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('environment schema', () => {
  it('applies defaults and normalises values', () => {
    const env = loadEnv({ ...dataverse, COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/' }, [
      'dataverse',
      'cosmos',
      'sync',
    ]);
    expect(env.DATAVERSE_URL).toBe('https://contoso.crm.dynamics.com');
    expect(env.DATAVERSE_MAX_CONCURRENCY).toBe(8);
    expect(env.COSMOS_DATABASE).toBe('marketing');
    expect(env.COSMOS_KEY).toBeUndefined();
    expect(env.SYNC_ENTITIES).toEqual([...DEFAULT_ENTITIES]);
    expect(env.SYNC_SCHEDULE).toBe('0 */1 * * * *');
  });

  it('parses only the sections asked for', () => {
    expect(() =>
      loadEnv({ SERVICEBUS: 'Endpoint=sb://x/;SharedAccessKeyName=a;SharedAccessKey=b' }, ['serviceBus']),
    ).not.toThrow();
  });

  it('names each missing variable and what is wrong, all at once', () => {
    const error = errorOf(() =>
      loadEnv({ DATAVERSE_URL: 'not a url' }, ['dataverse', 'cosmos', 'serviceBus']),
    );
    expect(error.code).toBe('invalid_config');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/DATAVERSE_URL: must be an https:\/\/ URL.*\(got "not a url"\)/);
    expect(error.message).toMatch(/DATAVERSE_TENANT_ID: is required \(not set\)/);
    expect(error.message).toMatch(
      /DATAVERSE_CLIENT_SECRET: set DATAVERSE_CLIENT_SECRET or DATAVERSE_CLIENT_CERTIFICATE_PATH/,
    );
    expect(error.message).toMatch(/COSMOS_ENDPOINT: is required/);
    expect(error.message).toMatch(/SERVICEBUS: set SERVICEBUS .* or SERVICEBUS__fullyQualifiedNamespace/);
  });

  it('accepts a certificate instead of a secret', () => {
    const { DATAVERSE_CLIENT_SECRET: _secret, ...rest } = dataverse;
    const env = loadEnv({ ...rest, DATAVERSE_CLIENT_CERTIFICATE_PATH: '/etc/cert.pem' }, ['dataverse']);
    expect(env.DATAVERSE_CLIENT_CERTIFICATE_PATH).toBe('/etc/cert.pem');
  });

  it('never echoes a secret value in an error', () => {
    const error = errorOf(() => loadEnv({ COSMOS_ENDPOINT: 'x', COSMOS_KEY: 'very-secret-key' }, ['cosmos']));
    expect(error.message).not.toContain('very-secret-key');
  });

  it('enforces the Dataverse concurrency hard cap of 52', () => {
    expect(
      errorOf(() => loadEnv({ ...dataverse, DATAVERSE_MAX_CONCURRENCY: '53' }, ['dataverse'])).message,
    ).toMatch(/DATAVERSE_MAX_CONCURRENCY: must be at most 52/);
    expect(
      loadEnv({ ...dataverse, DATAVERSE_MAX_CONCURRENCY: '52' }, ['dataverse']).DATAVERSE_MAX_CONCURRENCY,
    ).toBe(52);
  });

  it('splits and lower-cases SYNC_ENTITIES and rejects repeats and bad schedules', () => {
    expect(loadEnv({ SYNC_ENTITIES: ' Lead, contact ,new_event' }, ['sync']).SYNC_ENTITIES).toEqual([
      'lead',
      'contact',
      'new_event',
    ]);
    expect(errorOf(() => loadEnv({ SYNC_ENTITIES: 'lead,lead' }, ['sync'])).message).toMatch(
      /names an entity twice/,
    );
    expect(errorOf(() => loadEnv({ SYNC_SCHEDULE: '*/5 * * * *' }, ['sync'])).message).toMatch(
      /6-field NCRONTAB/,
    );
  });

  it('lists every variable it reads in SETTING_NAMES', () => {
    expect(new Set(SETTING_NAMES).size).toBe(SETTING_NAMES.length);
    expect(SETTING_NAMES).toEqual(
      expect.arrayContaining(['DATAVERSE_URL', 'COSMOS_ENDPOINT', 'SYNC_ENTITIES', 'SYNC_CONFIG']),
    );
  });
});
