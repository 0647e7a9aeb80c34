import { createHash, X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  authorityForTokenEndpoint,
  buildMsalConfiguration,
  loadCertificate,
  MsalTokenProvider,
} from '../../shared/dataverse/token.provider';

// A throwaway self-signed certificate made for this test only (CN=dataverse-sync-test), PKCS#1 key.
const TEST_PEM = `-----BEGIN CERTIFICATE-----
MIIDHTCCAgWgAwIBAgIUQ1KrZ+61vCdNlXRiaUi5PvgB8lswDQYJKoZIhvcNAQEL
BQAwHjEcMBoGA1UEAwwTZGF0YXZlcnNlLXN5bmMtdGVzdDAeFw0yNjExMjMxMjI0
MzhaFw0zNjExMjAxMjI0MzhaMB4xHDAaBgNVBAMME2RhdGF2ZXJzZS1zeW5jLXRl
c3QwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCuBA5jNlrqdFqYPKu4
9aJWgb3JG7fbYJVzUrgJr+/WJWHEj3nVE4nzVH5FV49N+l2rHabrEJfhAinh+GSv
KgoFdVzUZT2WGp8edlxrWucX2J6LIg3/npsZvkO3SYfGeH3jNYkGRcBzvMeglFMO
x4jrUYC1et/HN01HEclOHI1+9G+RTP8acI8X/Qp+VLCHCTCGsIK0oDba8aQ/0AJj
LOe/A2x1PmhFI7WAl36SZvRh080lxgdsdNfGYEMKm1umwNO293YbYVbeWcHnkhpM
e0WaM8Kf6HGUK9aMCSDAbBP7VaJ7iVv/RHr82kQnpHybL9qWhWCDt0+36AWhRL+V
DbQTAgMBAAGjUzBRMB0GA1UdDgQWBBSURTNr3lvbyqH+I1Ra83e8xQTqizAfBgNV
HSMEGDAWgBSURTNr3lvbyqH+I1Ra83e8xQTqizAPBgNVHRMBAf8EBTADAQH/MA0G
CSqGSIb3DQEBCwUAA4IBAQBWY9scJBmH941uN0QoHwe+FI5r7rv96H1Hhaxy2l3b
GV0ARCHCALTYVB4mHT4ZYcAkgYj+b0jGhRwvDGWc+Xd50qxrxbiobwsUDgTsdo2T
z2g8IGCy7XnC8N04kxvLOr7/YezMT37kyAIOi29en0NXSlpn9Yep0zYtb1Lwnju+
bTUPd5tnUlFs35jAyPa8d3mIZjvbKd67eW/NEJhCxquKpMr9IB9bBO+O0eZElLNl
hsssIrlacFPIbCDk24iOwujqL/LjPFfmPbTS8/kQqCDGxK2psXEYwx60AxP76xTB
6yPDIdAnAokkkNAWCSr3er8+9tL08iYNVsW73yjFKrkk
-----END CERTIFICATE-----
-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEArgQOYzZa6nRamDyruPWiVoG9yRu322CVc1K4Ca/v1iVhxI95
1ROJ81R+RVePTfpdqx2m6xCX4QIp4fhkryoKBXVc1GU9lhqfHnZca1rnF9ieiyIN
/56bGb5Dt0mHxnh94zWJBkXAc7zHoJRTDseI61GAtXrfxzdNRxHJThyNfvRvkUz/
GnCPF/0KflSwhwkwhrCCtKA22vGkP9ACYyznvwNsdT5oRSO1gJd+kmb0YdPNJcYH
bHTXxmBDCptbpsDTtvd2G2FW3lnB55IaTHtFmjPCn+hxlCvWjAkgwGwT+1Wie4lb
/0R6/NpEJ6R8my/aloVgg7dPt+gFoUS/lQ20EwIDAQABAoIBAAQPxizcpOyaAKSo
WIhoUKdc6eAazITLUVGwGZQ9o1xyjOtN6gBmL1nFnBjkPU0K+KAOK3Tgc0W7i4dh
s9U+0Z26VTYD6EHA/KZ1CXKGsaQl2IrTev4qETay8S5YV1nzkASl8ufO6E9glaGS
317Am4Uv5tAq6QmOVI3BxYVpjIftBMU6Q/5IEWj+ogNX155ePerABRe1je2Jpf/A
uOTuuzMho3cxbGTCrU0Xr8urX5VO6t2nwvN/NuLLYbNDRPNUWuyUE1nLLGmvOeSI
k/mIWvWI8SBUDfcaAoAb5yzfbu9G52QRRGkpVFW3ppMbpGpaxfqMF8G33KwvofL+
4WWVJfkCgYEA4Gfy04sZemxAjF422Wxxwi/a/irSopPx7YQoz+lF/WFc8SwegTUY
FX+htKHTXlxmftF8ucxt5pCCcpZQo4Q2bHEofmGAF26NlpNcTdKR8F5KvFPQK2Tb
J9z3HxuRzZoPmAa2oJy77nHsBc/pnCFpdm4o2ahGAMAMEZdSXrt4xF0CgYEAxoPx
JQ2SmYql9Do/mM/cuYocjyCJ+Nfjnp9ODhshE+StsIiD/svrXuKA00CLdG+PFTh0
tuevElh26y3lQ/HmdoNlUlgAAcL6fHs8r9b2XDnATVKlsn6I7M8io4Py6Jjc8My+
H3LBMyqXZG3I5yukwKb7k41Z0CjX+Ej1C8+d0y8CgYEAu+lvpoMhZ6mEd8ZhCbpM
nD50lEeJsIhQmwMDJe8CI8ZHDNFUDgBG1aHV6CtmkuqvDV0go3kzQlIaWhfTGMoa
xL4RGZtNptF1kPR+49ADUxOyY3ePpvbCqePXr93nPxLWIgjlHyOAH5CYAtnylkJI
TNq8LF9Dl1c6A/UCDb/QxiUCgYA1FAQ/JwDiouq6gXSNtE5NIbt/HXEmovrOZ8Pk
C6btfcBfKjE4yGdXiHJviZt/93AneV/jo9Dws8ygFzZs01oOqBVIThU6Y1q8O+s/
DNf0UtCzG/0H28NapguZ8ubZAD5a+DOBjxpPRv0RsjT8cnPruvobOrkf6jvMvB0h
GlMVqwKBgQDAPU3jnQh1nRc21R3j20b+txb0OZa/2zn69y3cP7AtbQJJzf5smlWy
4uNlRR8ar8lK4Dc/iFvz2IdT8lZHeBm5k0fw4GvIdvRHC6M+isQX7S8whuAtEMTn
OoFFWs6IaKaRODe3JNyBtuSDni4ZbyNSgI9jKGgfWcKc2heeUSagQw==
-----END RSA PRIVATE KEY-----
`;

const tenantId = '11111111-1111-4111-8111-111111111111';

interface TokenServer {
  url: string;
  forms: URLSearchParams[];
  paths: string[];
  close(): Promise<void>;
}

let server: TokenServer | undefined;

async function startTokenServer(): Promise<TokenServer> {
  const forms: URLSearchParams[] = [];
  const paths: string[] = [];
  let issued = 0;
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url}`);
      if (req.method === 'POST' && req.url?.startsWith(`/${tenantId}/oauth2/v2.0/token`)) {
        forms.push(new URLSearchParams(body));
        issued += 1;
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            token_type: 'Bearer',
            expires_in: 3600,
            ext_expires_in: 3600,
            access_token: `tok-${issued}`,
          }),
        );
        return;
      }
      res.writeHead(404);
      res.end();
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return {
    url,
    forms,
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('MsalTokenProvider', () => {
  it('gets a client-credentials token from an overridden endpoint, caches it, and force-refreshes', async () => {
    server = await startTokenServer();
    const provider = new MsalTokenProvider({
      url: 'https://org.crm.dynamics.com/',
      tenantId,
      clientId: 'client-1',
      clientSecret: 's3cret-value',
      tokenEndpoint: `${server.url}/${tenantId}/oauth2/v2.0/token`,
    });
    await expect(provider.getToken()).resolves.toBe('tok-1');
    await expect(provider.getToken()).resolves.toBe('tok-1');
    await expect(provider.getToken({ forceRefresh: true })).resolves.toBe('tok-2');
    expect(server.forms).toHaveLength(2);
    const form = server.forms[0];
    expect(form?.get('grant_type')).toBe('client_credentials');
    expect(form?.get('client_id')).toBe('client-1');
    expect(form?.get('client_secret')).toBe('s3cret-value');
    expect(form?.get('scope')).toContain('https://org.crm.dynamics.com/.default');
    // msal called only the token endpoint: no discovery.
    expect(server.paths.every((p) => p.startsWith(`POST /${tenantId}/oauth2/v2.0/token`))).toBe(true);
  });

  it('signs a client assertion with a certificate from a PEM file', async () => {
    server = await startTokenServer();
    const provider = new MsalTokenProvider(
      {
        url: 'https://org.crm.dynamics.com',
        tenantId,
        clientId: 'client-cert',
        certificatePath: '/secrets/cert.pem',
        tokenEndpoint: `${server.url}/${tenantId}/oauth2/v2.0/token`,
      },
      { readFile: (path) => (path === '/secrets/cert.pem' ? TEST_PEM : '') },
    );
    await expect(provider.getToken()).resolves.toBe('tok-1');
    const form = server.forms[0];
    expect(form?.get('client_secret')).toBeNull();
    expect(form?.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const assertion = form?.get('client_assertion') ?? '';
    const header = JSON.parse(Buffer.from(assertion.split('.')[0] ?? '', 'base64url').toString()) as Record<
      string,
      string
    >;
    const der = new X509Certificate(TEST_PEM).raw;
    expect(header['x5t#S256']).toBe(createHash('sha256').update(der).digest('base64url'));
  });

  it('maps a refused credential to a non-retryable auth_failed error without the secret', async () => {
    const srv = http.createServer((_req, res) => {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          error: 'invalid_client',
          error_description: 'AADSTS7000215: Invalid client secret provided.',
        }),
      );
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const port = (srv.address() as AddressInfo).port;
    try {
      const provider = new MsalTokenProvider({
        url: 'https://org.crm.dynamics.com',
        tenantId,
        clientId: 'c',
        clientSecret: 'wrong-secret-123',
        tokenEndpoint: `http://127.0.0.1:${port}/${tenantId}/oauth2/v2.0/token`,
      });
      const error = await provider.getToken().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'auth_failed', retryable: false });
      expect(JSON.stringify(error) + String(error)).not.toContain('wrong-secret-123');
    } finally {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});

describe('token provider configuration', () => {
  it('uses the public authority by default', () => {
    const config = buildMsalConfiguration(
      { url: 'https://org.crm.dynamics.com', tenantId, clientId: 'c', clientSecret: 's' },
      () => '',
    );
    expect(config.auth.authority).toBe(`https://login.microsoftonline.com/${tenantId}`);
    expect(config.auth.authorityMetadata).toBeUndefined();
  });

  it('builds an https authority with metadata for an http token endpoint', () => {
    const built = authorityForTokenEndpoint(`http://127.0.0.1:7072/${tenantId}/oauth2/v2.0/token`, tenantId);
    expect(built.authority).toBe(`https://127.0.0.1:7072/${tenantId}`);
    expect(built.knownAuthorities).toEqual(['127.0.0.1:7072']);
    const metadata = JSON.parse(built.authorityMetadata) as Record<string, string>;
    expect(metadata['token_endpoint']).toBe(`http://127.0.0.1:7072/${tenantId}/oauth2/v2.0/token`);
    expect(Object.keys(metadata)).toEqual(
      expect.arrayContaining(['issuer', 'authorization_endpoint', 'jwks_uri']),
    );
  });

  it('requires exactly one credential', () => {
    expect(() =>
      buildMsalConfiguration({ url: 'https://org.crm.dynamics.com', tenantId, clientId: 'c' }, () => ''),
    ).toThrow(/exactly one/);
    expect(() =>
      buildMsalConfiguration(
        {
          url: 'https://org.crm.dynamics.com',
          tenantId,
          clientId: 'c',
          clientSecret: 's',
          certificatePath: '/x',
        },
        () => '',
      ),
    ).toThrow(/exactly one/);
  });

  it('loads certificates: PKCS#1 to PKCS#8, sha256 by default, explicit sha1 kept', () => {
    const cert = loadCertificate(TEST_PEM);
    expect(cert.privateKey).toContain('-----BEGIN PRIVATE KEY-----');
    expect(cert.thumbprintSha256).toBe(new X509Certificate(TEST_PEM).fingerprint256.replace(/:/g, ''));
    const sha1 = new X509Certificate(TEST_PEM).fingerprint;
    const withSha1 = loadCertificate(TEST_PEM, sha1);
    expect(withSha1.thumbprint).toBe(sha1.replace(/:/g, ''));
    expect(withSha1.thumbprintSha256).toBeUndefined();
    expect(() => loadCertificate(TEST_PEM, 'abc')).toThrow(/SHA-1/);
    expect(() => loadCertificate('no key here')).toThrow(/private key/);
  });
});
