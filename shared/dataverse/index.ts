import { ChangeTrackingReader } from './change-tracking.reader';
import { DataverseClient } from './dataverse.client';
import type { ApiBudget } from './leased.api-budget';
import { type GovernorEvent, ThrottleGovernor, type ThrottleGovernorOptions } from './throttle.governor';
import { MsalTokenProvider, type MsalTokenProviderOptions, type TokenProvider } from './token.provider';

export * from './api-budget.ledger';
export * from './batch.codec';
export * from './change-tracking.reader';
export * from './dataverse.client';
export * from './dataverse.errors';
export * from './leased.api-budget';
export * from './odata.query';
export * from './throttle.governor';
export * from './token.provider';

export interface DataverseConnectionOptions {
  auth: MsalTokenProviderOptions;
  /** Defaults to auth.url. */
  baseUrl?: string;
  apiPath?: string;
  governor?: ThrottleGovernorOptions;
  /** The budget shared across processes (see docs/api-budget.md); without it the limits are per process. */
  budget?: ApiBudget;
  requestTimeoutMs?: number;
  /** Overrides msal (tests, a managed identity adapter). */
  tokenProvider?: TokenProvider;
  onGovernorEvent?: (event: GovernorEvent) => void;
  /** Defaults to the global fetch; a wrapper can add tracing. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

export interface DataverseConnection {
  client: DataverseClient;
  governor: ThrottleGovernor;
  reader: ChangeTrackingReader;
  tokenProvider: TokenProvider;
}

/**
 * Composition helper for functions/ and the local stack. One connection (one governor) per
 * application user and process: the service limits are per user, so sharing the governor is what
 * makes a 429 pause every caller.
 */
export function createDataverseConnection(options: DataverseConnectionOptions): DataverseConnection {
  const tokenProvider = options.tokenProvider ?? new MsalTokenProvider(options.auth);
  const governor = new ThrottleGovernor({
    ...(options.governor ?? {}),
    ...(options.onGovernorEvent ? { onEvent: options.onGovernorEvent } : {}),
    ...(options.budget ? { budget: options.budget } : {}),
  });
  const client = new DataverseClient({
    baseUrl: options.baseUrl ?? options.auth.url,
    ...(options.apiPath !== undefined ? { apiPath: options.apiPath } : {}),
    tokenProvider,
    governor,
    ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return { client, governor, reader: new ChangeTrackingReader(client), tokenProvider };
}
