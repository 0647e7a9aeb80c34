import { lazyServices } from '../../shared/app/app.services';
import { main } from '../../shared/cli/cli';

/** `dynamics-sync config check` run in-process, through the real entry point. */
async function configCheck(env: Record<string, string>): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(['node', 'dynamics-sync', 'config', 'check'], {
    env,
    out: (line) => lines.push(line),
    err: (line) => lines.push(line),
    stderr: process.stderr,
  });
  return { code, text: lines.join('\n') };
}

describe('dynamics-sync config check with credentials pasted into the wrong settings', () => {
  const cosmosKey = 'c2VjcmV0LWtleS1vZi10aGUtYWNjb3VudA==';
  const password = 'Hunter2-Pa55';
  const signature = 'sIgNaTuRe0123';
  const sbKey = 'sb-key-abc123';

  it('names each setting and its fix, and prints none of the secrets', async () => {
    const { code, text } = await configCheck({
      DATAVERSE_URL: `https://admin:${password}@contoso.crm.dynamics.com`,
      DATAVERSE_TENANT_ID: 'tenant',
      DATAVERSE_CLIENT_ID: 'client',
      DATAVERSE_CLIENT_SECRET: 'the-real-secret',
      DATAVERSE_TOKEN_ENDPOINT: `https://login.example.com/token?sig=${signature}`,
      COSMOS_ENDPOINT: `AccountEndpoint=https://acct.documents.azure.com:443/;AccountKey=${cosmosKey};`,
      SERVICEBUS: `Endpoint=sb://ns/;SharedAccessKeyName=root;SharedAccessKey=${sbKey}`,
      DATAVERSE_MAX_CONCURRENCY: '99',
    });
    expect(code).toBe(2);
    for (const secret of [cosmosKey, password, signature, sbKey, 'the-real-secret']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toMatch(/DATAVERSE_URL: .*user name or password.*DATAVERSE_CLIENT_ID/);
    expect(text).toMatch(/DATAVERSE_TOKEN_ENDPOINT: .*query string/);
    expect(text).toMatch(/COSMOS_ENDPOINT: .*connection string.*COSMOS_KEY/);
    // The harmless parts still help: the endpoint the connection string was meant to give.
    expect(text).toContain('https://acct.documents.azure.com:443/');
    expect(text).toMatch(/DATAVERSE_MAX_CONCURRENCY: must be at most 52/);
  });

  it('the Functions start-up refuses the same settings with the same redacted message', async () => {
    const services = lazyServices({
      DATAVERSE_URL: `https://admin:${password}@contoso.crm.dynamics.com`,
      COSMOS_ENDPOINT: `AccountEndpoint=https://acct.documents.azure.com:443/;AccountKey=${cosmosKey};`,
      SERVICEBUS: `Endpoint=sb://ns/;SharedAccessKeyName=root;SharedAccessKey=${sbKey}`,
    });
    const error = await services().then(
      () => new Error('expected start-up to fail'),
      (failure: unknown) => failure as Error,
    );
    expect(error.message).toMatch(/COSMOS_ENDPOINT: .*connection string.*COSMOS_KEY/);
    for (const secret of [cosmosKey, password, sbKey]) expect(error.message).not.toContain(secret);
  });
});
