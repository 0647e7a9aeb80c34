import { randomBytes } from 'node:crypto';

// A stand-in for Microsoft Entra ID's v2 token endpoint (client credentials only). Tokens are
// opaque; the simulator remembers which client each belongs to and when it expires.

export interface RegisteredClient {
  clientId: string;
  clientSecret?: string;
  certificate?: boolean;
}

export interface TokenServiceOptions {
  clients: RegisteredClient[];
  tenantId: string;
  lifetimeSeconds: number;
  now: () => number;
  /** Resource URLs accepted as `<resource>/.default`. */
  resources: () => string[];
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

const aadError = (status: number, error: string, code: number, description: string): TokenAnswer => ({
  status,
  body: {
    error,
    error_description: `AADSTS${code}: ${description}`,
    error_codes: [code],
    timestamp: new Date()
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z'),
    trace_id: '00000000-0000-0000-0000-000000000000',
    correlation_id: '00000000-0000-0000-0000-000000000000',
  },
});

const decodeJwtPayload = (jwt: string): Record<string, unknown> | undefined => {
  const part = jwt.split('.')[1];
  if (!part) return undefined;
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

export class TokenService {
  private readonly tokens = new Map<string, { clientId: string; expiresAt: number }>();

  constructor(private readonly opts: TokenServiceOptions) {}

  issue(form: URLSearchParams): TokenAnswer {
    const grant = form.get('grant_type');
    if (grant !== 'client_credentials') {
      return aadError(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grant ?? ''}'.`,
      );
    }
    const assertion = form.get('client_assertion');
    const claims = assertion ? decodeJwtPayload(assertion) : undefined;
    const clientId = form.get('client_id') ?? (typeof claims?.iss === 'string' ? claims.iss : null);
    const client = this.opts.clients.find((c) => c.clientId === clientId);
    if (!clientId || !client) {
      return aadError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId ?? ''}' was not found in the directory '${this.opts.tenantId}'.`,
      );
    }
    if (assertion !== null) {
      // Certificate signatures are not verified: any well-formed assertion naming the client will do.
      if (!client.certificate || !claims || (claims.sub !== undefined && claims.sub !== clientId)) {
        return aadError(401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
      }
    } else if (client.clientSecret === undefined || form.get('client_secret') !== client.clientSecret) {
      return aadError(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
      );
    }
    const scope = (form.get('scope') ?? '')
      .split(/\s+/)
      .filter((s) => s.length > 0 && !['openid', 'profile', 'offline_access'].includes(s));
    const accepted = this.opts.resources().flatMap((r) => {
      const base = r.replace(/\/+$/, '');
      return [`${base}/.default`, `${base}//.default`];
    });
    if (scope.length !== 1 || !accepted.includes(scope[0] as string)) {
      return aadError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope.join(' ')} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    this.purge();
    const token = `sim.${randomBytes(24).toString('base64url')}`;
    const lifetime = this.opts.lifetimeSeconds;
    this.tokens.set(token, { clientId, expiresAt: this.opts.now() + lifetime * 1000 });
    return {
      status: 200,
      body: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token },
    };
  }

  /** Client id of a valid, unexpired bearer token, else undefined. */
  verify(authorization: string | undefined): string | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const entry = this.tokens.get(m[1] as string);
    if (!entry || entry.expiresAt <= this.opts.now()) return undefined;
    return entry.clientId;
  }

  revokeAll(): void {
    this.tokens.clear();
  }

  private purge(): void {
    const t = this.opts.now();
    for (const [k, v] of this.tokens) if (v.expiresAt <= t) this.tokens.delete(k);
  }
}
