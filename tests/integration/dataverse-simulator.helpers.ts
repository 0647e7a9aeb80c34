import {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  startDataverseSimulator,
  type DataverseSimulator,
  type SimulatorOptions,
} from '../../local/dataverse/simulator.server';
import {
  createDataverseConnection,
  type DataverseConnection,
  type DataverseConnectionOptions,
  type MsalTokenProviderOptions,
} from '../../shared/dataverse';
import { useStarted } from './lifecycle.helpers';

/** The simulator's address and the default client's credentials, as the app's msal settings. */
export const simulatorAuth = (sim: DataverseSimulator): MsalTokenProviderOptions => ({
  url: sim.url,
  tenantId: sim.tenantId,
  clientId: DEFAULT_CLIENT_ID,
  clientSecret: DEFAULT_CLIENT_SECRET,
  tokenEndpoint: sim.tokenEndpoint,
});

/** The app's Dataverse connection to the simulator, signed in as the default client. */
export const connectToSimulator = (
  sim: DataverseSimulator,
  options: Omit<DataverseConnectionOptions, 'auth'> = {},
): DataverseConnection => createDataverseConnection({ auth: simulatorAuth(sim), ...options });

export const getToken = async (
  sim: DataverseSimulator,
  clientId = DEFAULT_CLIENT_ID,
  clientSecret = DEFAULT_CLIENT_SECRET,
): Promise<string> => {
  const res = await fetch(sim.tokenEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      scope: sim.scope,
    }),
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
};

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** Minimal Web API caller: relative paths resolve against the simulator's API root. */
export const apiCaller = (sim: DataverseSimulator, token: string) => {
  const call = async (
    method: string,
    path: string,
    opts: { body?: unknown; headers?: Record<string, string>; raw?: string } = {},
  ): Promise<Answer> => {
    const url = path.startsWith('http') ? path : `${sim.apiUrl}${path}`;
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'OData-MaxVersion': '4.0',
      'OData-Version': '4.0',
      Authorization: `Bearer ${token}`,
      ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...opts.headers,
    };
    const res = await fetch(url, {
      method,
      headers,
      ...(opts.raw !== undefined
        ? { body: opts.raw }
        : opts.body !== undefined
          ? { body: JSON.stringify(opts.body) }
          : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  return {
    call,
    get: (path: string, headers?: Record<string, string>) => call('GET', path, headers ? { headers } : {}),
    post: (path: string, body: unknown, headers?: Record<string, string>) =>
      call('POST', path, { body, ...(headers ? { headers } : {}) }),
    patch: (path: string, body: unknown, headers?: Record<string, string>) =>
      call('PATCH', path, { body, ...(headers ? { headers } : {}) }),
    del: (path: string, headers?: Record<string, string>) => call('DELETE', path, headers ? { headers } : {}),
  };
};
export type ApiCaller = ReturnType<typeof apiCaller>;

/** A simulator and a caller signed in as the default client: what most suites start with. */
export const startWithApi = async (
  options: SimulatorOptions,
): Promise<{ sim: DataverseSimulator; api: ApiCaller }> => {
  const sim = await startDataverseSimulator(options);
  return { sim, api: apiCaller(sim, await getToken(sim)) };
};

/** A simulator for the enclosing describe, started before its tests and closed after them. */
export const useSimulator = (options: SimulatorOptions): (() => DataverseSimulator) =>
  useStarted(() => startDataverseSimulator(options));

/** {@link startWithApi} for the enclosing describe: getters for the simulator and its signed-in caller. */
export const useSimulatorWithApi = (
  options: SimulatorOptions,
): { sim: () => DataverseSimulator; api: () => ApiCaller } => {
  const started = useStarted(async () => {
    const { sim, api } = await startWithApi(options);
    return { sim, api, close: () => sim.close() };
  });
  return { sim: () => started().sim, api: () => started().api };
};
