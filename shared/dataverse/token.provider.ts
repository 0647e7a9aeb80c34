import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { z } from 'zod';
import { DataverseError } from './dataverse.errors';

export interface TokenProvider {
  getToken(options?: { forceRefresh?: boolean }): Promise<string>;
}

export const msalTokenProviderOptionsSchema = z
  .object({
    /** The Dataverse organization URL, e.g. https://contoso.crm.dynamics.com */
    url: z.url(),
    tenantId: z.string().min(1),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    /** A PEM file holding the certificate and its private key. */
    certificatePath: z.string().min(1).optional(),
    /** Hex thumbprint; when absent it is computed (SHA-256) from the certificate in the PEM file. */
    certificateThumbprint: z.string().min(1).optional(),
    /** Overrides the Entra token endpoint (private clouds, the local simulator). May be http://127.0.0.1. */
    tokenEndpoint: z.url().optional(),
    /** Entra authority host. Default https://login.microsoftonline.com */
    authorityHost: z.url().optional(),
  })
  .refine((o) => (o.clientSecret === undefined) !== (o.certificatePath === undefined), {
    message: 'exactly one of clientSecret or certificatePath is required',
  });

export type MsalTokenProviderOptions = z.input<typeof msalTokenProviderOptionsSchema>;

/** What msal needs to sign client assertions with a certificate. */
export interface CertificateCredential {
  thumbprint?: string;
  thumbprintSha256?: string;
  privateKey: string;
  x5c?: string;
}

/**
 * Reads a PEM bundle (certificate + private key). A SHA-1 thumbprint given explicitly is passed as
 * such (older registrations); otherwise the SHA-256 thumbprint of the certificate is used.
 */
export function loadCertificate(pem: string, thumbprint?: string): CertificateCredential {
  const keyMatch =
    /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.exec(
      pem,
    );
  if (!keyMatch) {
    throw new DataverseError('The certificate file holds no private key', {
      code: 'configuration',
      retryable: false,
    });
  }
  // msal wants PKCS#8 ("BEGIN PRIVATE KEY"); convert PKCS#1 / SEC1 keys.
  const privateKey = createPrivateKey(keyMatch[0]).export({ format: 'pem', type: 'pkcs8' }).toString();
  const certMatch = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  const credential: CertificateCredential = { privateKey };
  if (certMatch) credential.x5c = certMatch[0];
  const explicit = thumbprint?.replace(/[:\s]/g, '').toUpperCase();
  if (explicit !== undefined) {
    if (explicit.length === 40) credential.thumbprint = explicit;
    else if (explicit.length === 64) credential.thumbprintSha256 = explicit;
    else {
      throw new DataverseError('A certificate thumbprint must be SHA-1 (40 hex) or SHA-256 (64 hex)', {
        code: 'configuration',
        retryable: false,
      });
    }
    return credential;
  }
  if (!certMatch) {
    throw new DataverseError('The certificate file holds no certificate and no thumbprint was given', {
      code: 'configuration',
      retryable: false,
    });
  }
  credential.thumbprintSha256 = new X509Certificate(certMatch[0]).fingerprint256.replace(/:/g, '');
  return credential;
}

/**
 * msal refuses http authorities and otherwise runs OIDC discovery. For an endpoint override we
 * give it an https authority on the endpoint's host, list that host as known, and hand it the
 * metadata, so the only call it makes is to token_endpoint (which may be plain http on loopback).
 */
export function authorityForTokenEndpoint(
  tokenEndpoint: string,
  tenantId: string,
): { authority: string; knownAuthorities: string[]; authorityMetadata: string } {
  const endpoint = new URL(tokenEndpoint);
  const authorityBase = `https://${endpoint.host}/${tenantId}`;
  const metadata = {
    issuer: `${authorityBase}/v2.0`,
    authorization_endpoint: `${endpoint.protocol}//${endpoint.host}/${tenantId}/oauth2/v2.0/authorize`,
    token_endpoint: endpoint.toString(),
    jwks_uri: `${endpoint.protocol}//${endpoint.host}/${tenantId}/discovery/v2.0/keys`,
    end_session_endpoint: `${endpoint.protocol}//${endpoint.host}/${tenantId}/oauth2/v2.0/logout`,
  };
  return {
    authority: authorityBase,
    knownAuthorities: [endpoint.host],
    authorityMetadata: JSON.stringify(metadata),
  };
}

/** Builds the msal configuration; separate so it can be checked without network. */
export function buildMsalConfiguration(
  input: MsalTokenProviderOptions,
  readFile: (path: string) => string,
): Configuration {
  const options = msalTokenProviderOptionsSchema.parse(input);
  const auth: Configuration['auth'] = { clientId: options.clientId };
  if (options.clientSecret !== undefined) auth.clientSecret = options.clientSecret;
  if (options.certificatePath !== undefined) {
    auth.clientCertificate = loadCertificate(
      readFile(options.certificatePath),
      options.certificateThumbprint,
    );
  }
  if (options.tokenEndpoint !== undefined) {
    Object.assign(auth, authorityForTokenEndpoint(options.tokenEndpoint, options.tenantId));
  } else {
    const host = (options.authorityHost ?? 'https://login.microsoftonline.com').replace(/\/+$/, '');
    auth.authority = `${host}/${options.tenantId}`;
  }
  return {
    auth,
    system: {
      loggerOptions: {
        // msal already scrubs PII when piiLoggingEnabled is false; we keep it off and quiet.
        piiLoggingEnabled: false,
        loggerCallback: () => undefined,
      },
    },
  };
}

export function scopeFor(url: string): string {
  return `${new URL(url).origin}/.default`;
}

/** Client-credentials tokens for a Dataverse application user, cached by msal. */
export class MsalTokenProvider implements TokenProvider {
  private readonly app: ConfidentialClientApplication;
  private readonly scope: string;

  constructor(options: MsalTokenProviderOptions, deps: { readFile?: (path: string) => string } = {}) {
    const readFile = deps.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
    this.app = new ConfidentialClientApplication(buildMsalConfiguration(options, readFile));
    this.scope = scopeFor(options.url);
  }

  async getToken(options: { forceRefresh?: boolean } = {}): Promise<string> {
    let result;
    try {
      result = await this.app.acquireTokenByClientCredential({
        scopes: [this.scope],
        skipCache: options.forceRefresh === true,
      });
    } catch (error) {
      const code = (error as { errorCode?: string }).errorCode;
      // msal errors can echo request parameters; keep only its error code.
      throw new DataverseError(`Token request failed${code ? ` (${code})` : ''}`, {
        code: 'auth_failed',
        retryable: isTransientAuthFailure(error),
      });
    }
    if (!result?.accessToken) {
      throw new DataverseError('Token request returned no access token', {
        code: 'auth_failed',
        retryable: true,
      });
    }
    return result.accessToken;
  }
}

function isTransientAuthFailure(error: unknown): boolean {
  const e = error as { errorCode?: string; name?: string; message?: string };
  if (e.name === 'ServerError') {
    return !/invalid_client|unauthorized_client|invalid_request|invalid_scope/i.test(e.errorCode ?? '');
  }
  return /network|timeout|ECONN|fetch failed|post_request_failed/i.test(
    `${e.errorCode ?? ''} ${e.message ?? ''}`,
  );
}
