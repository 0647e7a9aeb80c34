import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  DEFAULT_CLIENT_ID,
  startDataverseSimulator,
  type DataverseSimulator,
  type SimulatorOptions,
} from '../../local/dataverse/simulator.server';
import { DEFAULT_ENTITIES, OPT_IN_ENTITIES } from '../../shared/config/env.schema';
import { apiCaller, getToken, useSimulator } from './dataverse-simulator.helpers';

/** A client-credentials token request; `form` names the client and may replace the scope. */
const tokenRequest = (sim: DataverseSimulator, form: Record<string, string>) =>
  fetch(sim.tokenEndpoint, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: sim.scope, ...form }),
  });

// Auth and limits need few rows, and a clock that only their tests move.
const startSmall = (now: () => number, options: SimulatorOptions): Promise<DataverseSimulator> =>
  startDataverseSimulator({ records: 20, now, ...options });

describe('dataverse simulator: auth', () => {
  let sim: DataverseSimulator;
  let clock = Date.UTC(2025, 0, 10);

  beforeAll(async () => {
    sim = await startSmall(() => clock, {
      tokenLifetimeSeconds: 600,
      clients: [
        { clientId: DEFAULT_CLIENT_ID, clientSecret: 'secret-1' },
        { clientId: 'cert-client', certificate: true },
      ],
    });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('401 with WWW-Authenticate without a token, with a bad token, and after expiry', async () => {
    const none = await fetch(`${sim.apiUrl}contacts`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer authorization_uri=/);
    const bogus = await fetch(`${sim.apiUrl}contacts`, { headers: { Authorization: 'Bearer nope' } });
    expect(bogus.status).toBe(401);
    const token = await getToken(sim, DEFAULT_CLIENT_ID, 'secret-1');
    const api = apiCaller(sim, token);
    expect((await api.get('WhoAmI')).status).toBe(200);
    clock += 599_000;
    expect((await api.get('WhoAmI')).status).toBe(200);
    clock += 2_000;
    expect((await api.get('WhoAmI')).status).toBe(401);
  });

  it('token endpoint: answer shape, bad secret, unknown client, bad scope, cert assertion', async () => {
    const ok = await tokenRequest(sim, { client_id: DEFAULT_CLIENT_ID, client_secret: 'secret-1' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      token_type: 'Bearer',
      expires_in: 600,
      ext_expires_in: 600,
      access_token: expect.any(String),
    });
    const bad = await tokenRequest(sim, { client_id: DEFAULT_CLIENT_ID, client_secret: 'x' });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: string }).error).toBe('invalid_client');
    const unknown = await tokenRequest(sim, { client_id: 'who', client_secret: 'x' });
    expect(((await unknown.json()) as { error: string }).error).toBe('unauthorized_client');
    const scope = await tokenRequest(sim, {
      client_id: DEFAULT_CLIENT_ID,
      client_secret: 'secret-1',
      scope: 'https://other.crm.dynamics.com/.default',
    });
    expect(((await scope.json()) as { error: string }).error).toBe('invalid_scope');
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const assertion = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iss: 'cert-client', sub: 'cert-client', aud: sim.tokenEndpoint })}.c2ln`;
    const cert = await tokenRequest(sim, {
      client_id: 'cert-client',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    expect(cert.status).toBe(200);
    const oidc = await fetch(`${sim.url}/${sim.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(((await oidc.json()) as { token_endpoint: string }).token_endpoint).toBe(sim.tokenEndpoint);
  });
});

describe('dataverse simulator: service protection limits', () => {
  let sim: DataverseSimulator;
  let clock = Date.UTC(2025, 0, 10);

  beforeAll(async () => {
    sim = await startSmall(() => clock, {
      limits: { requestsPerWindow: 5, windowSeconds: 60, retryAfterSeconds: 2, concurrentRequests: 52 },
    });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('429 with Retry-After and the exact error; Retry-After grows while the client keeps pushing', async () => {
    const api = apiCaller(sim, await getToken(sim));
    sim.control.resetCounters();
    for (let i = 0; i < 5; i++) expect((await api.get('WhoAmI')).status).toBe(200);
    const limited = await api.get('WhoAmI');
    expect(limited.status).toBe(429);
    expect(limited.json).toEqual({
      error: {
        code: '0x80072322',
        message: 'Number of requests exceeded the limit of 5 over time window of 60 seconds.',
      },
    });
    const first = Number(limited.headers.get('retry-after'));
    expect(first).toBeGreaterThanOrEqual(2);
    // A request arriving within the grace after the 429 was already on the wire: refused, not a violation.
    const concurrent = await api.get('WhoAmI');
    expect(concurrent.status).toBe(429);
    expect(Number(concurrent.headers.get('retry-after'))).toBe(first);
    expect(sim.control.counters().total.retryAfterViolations).toBe(0);
    // Pushing during the penalty after the grace is a violation and doubles the wait.
    clock += 100;
    const pushed = await api.get('WhoAmI');
    expect(pushed.status).toBe(429);
    expect(Number(pushed.headers.get('retry-after'))).toBe(Math.min(300, first * 2));
    const c = sim.control.counters();
    expect(c.total.throttled).toBe(3);
    expect(c.total.retryAfterViolations).toBe(1);
    expect(c.clients[DEFAULT_CLIENT_ID]?.byStatus['429']).toBe(3);
    // After waiting out Retry-After and the window, requests pass again.
    clock += 61_000 + first * 2000;
    expect((await api.get('WhoAmI')).status).toBe(200);
    expect(sim.control.counters().total.retryAfterViolations).toBe(1);
  });

  it('concurrency: requests beyond the limit in flight answer 429 0x80072326; maxInFlight is counted', async () => {
    sim.control.setLimits({ requestsPerWindow: 6000, concurrentRequests: 4 });
    sim.control.resetCounters();
    sim.control.setFaults({ latencyMs: 150 });
    const api = apiCaller(sim, await getToken(sim));
    const answers = await Promise.all(Array.from({ length: 8 }, () => api.get('WhoAmI')));
    sim.control.clearFaults();
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(4);
    const limited = answers.find((a) => a.status === 429);
    expect(limited?.json.error).toEqual({
      code: '0x80072326',
      message: 'Number of concurrent requests exceeded the limit of 4.',
    });
    // Rejected requests leave at once; admitted ones stay in flight for the added latency.
    expect(sim.control.counters().total.maxInFlight).toBe(5);
    clock += 600_000;
    sim.control.setLimits({ concurrentRequests: 52 });
    sim.control.resetCounters();
    sim.control.setFaults({ latencyMs: 100 });
    const all = await Promise.all(Array.from({ length: 12 }, () => api.get('WhoAmI')));
    sim.control.clearFaults();
    expect(all.every((a) => a.status === 200)).toBe(true);
    expect(sim.control.counters().clients[DEFAULT_CLIENT_ID]?.maxInFlight).toBe(12);
    clock += 600_000;
  });

  it('execution time limit answers 0x80072321', async () => {
    sim.control.setLimits({ concurrentRequests: 52, executionMsPerWindow: 50 });
    sim.control.resetCounters();
    sim.control.setFaults({ latencyMs: 60 });
    const api = apiCaller(sim, await getToken(sim));
    expect((await api.get('WhoAmI')).status).toBe(200);
    const r = await api.get('WhoAmI');
    sim.control.clearFaults();
    expect(r.status).toBe(429);
    expect(r.json.error.code).toBe('0x80072321');
    expect(r.json.error.message).toMatch(
      /^Combined execution time of incoming requests exceeded limit of 50 milliseconds/,
    );
    sim.control.setLimits({ executionMsPerWindow: 1_200_000 });
    clock += 600_000;
  });
});

describe('dataverse simulator: fault injection and control API', () => {
  const sim = useSimulator({ records: 50, seed: 1 });

  it('failNext fails matching requests deterministically, then stops', async () => {
    const api = apiCaller(sim(), await getToken(sim()));
    sim().control.failNext({ count: 2, status: 503, pathPattern: '/contacts', method: 'GET' });
    expect((await api.get('accounts?$top=1')).status).toBe(200);
    const a = await api.get('contacts?$top=1');
    expect(a.status).toBe(503);
    expect(a.json.error).toBeDefined();
    expect((await api.get('contacts?$top=1')).status).toBe(503);
    expect((await api.get('contacts?$top=1')).status).toBe(200);
    sim().control.failNext({ status: 429, retryAfterSeconds: 7 });
    const t = await api.get('WhoAmI');
    expect(t.status).toBe(429);
    expect(t.headers.get('retry-after')).toBe('7');
  });

  it('connection resets destroy the socket without an answer', async () => {
    const api = apiCaller(sim(), await getToken(sim()));
    sim().control.failNext({ status: 'reset' });
    await expect(api.get('WhoAmI')).rejects.toThrow();
    expect((await api.get('WhoAmI')).status).toBe(200);
    sim().control.resetCounters();
    sim().control.setFaults({ resetRate: 1 });
    await expect(api.get('WhoAmI')).rejects.toThrow();
    sim().control.clearFaults();
    expect(sim().control.counters().total.faults).toBe(1);
  });

  it('error rates and latency apply to the API but never to /_sim/ or the token endpoint', async () => {
    const api = apiCaller(sim(), await getToken(sim()));
    sim().control.setFaults({ errorRates: { '500': 1 }, latencyMs: [20, 30] });
    const started = Date.now();
    const r = await api.get('WhoAmI');
    expect(Date.now() - started).toBeGreaterThanOrEqual(19);
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: { code: '0x80040216', message: 'An unexpected error occurred.' } });
    expect((await fetch(`${sim().url}/_sim/health`)).status).toBe(200);
    expect(await getToken(sim())).toEqual(expect.any(String));
    sim().control.clearFaults();
    expect((await api.get('WhoAmI')).status).toBe(200);
  });

  it('the HTTP control API writes as a Dynamics user, manages faults, clock, counters and the log', async () => {
    const post = (p: string, body: unknown) =>
      fetch(`${sim().url}/_sim/${p}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    const created = await post('tables/contacts/rows', { values: { firstname: 'Via', lastname: 'Control' } });
    expect(created.status).toBe(201);
    const row = (await created.json()) as Record<string, unknown>;
    expect(row.fullname).toBe('Via Control');
    const id = row.contactid as string;
    const patched = await fetch(`${sim().url}/_sim/tables/contact/rows/${id}`, {
      method: 'PATCH',
      body: JSON.stringify({ values: { firstname: 'Changed' } }),
    });
    expect(((await patched.json()) as Record<string, unknown>).firstname).toBe('Changed');
    expect(
      ((await (await fetch(`${sim().url}/_sim/tables/contact/count`)).json()) as { count: number }).count,
    ).toBe(sim().control.count('contact'));
    expect((await post('faults/fail-next', { status: 502 })).status).toBe(200);
    const api = apiCaller(sim(), await getToken(sim()));
    expect((await api.get('WhoAmI')).status).toBe(502);
    expect((await post('faults/fail-next', { status: 'bogus' })).status).toBe(400);
    const before = sim().control.now();
    await post('clock', { advanceMs: 3_600_000 });
    expect(sim().control.now() - before).toBeGreaterThanOrEqual(3_600_000);
    const log = (await (await fetch(`${sim().url}/_sim/requests`)).json()) as {
      status: number;
      path: string;
    }[];
    expect(log.some((e) => e.status === 502 && e.path.endsWith('WhoAmI'))).toBe(true);
    const counters = (await (await fetch(`${sim().url}/_sim/counters`)).json()) as {
      total: { requests: number };
    };
    expect(counters.total.requests).toBeGreaterThan(0);
    expect((await fetch(`${sim().url}/_sim/tables/contact/rows/${id}`, { method: 'DELETE' })).status).toBe(
      200,
    );
    expect((await fetch(`${sim().url}/_sim/tables/contact/rows/${id}`)).status).toBe(404);
  });
});

describe('dataverse simulator: determinism and CLI', () => {
  it('the same seed gives identical data, ids included; another seed differs', async () => {
    const a = await startDataverseSimulator({ records: 100, seed: 99 });
    const b = await startDataverseSimulator({ records: 100, seed: 99 });
    const c = await startDataverseSimulator({ records: 100, seed: 100 });
    try {
      for (const table of [...DEFAULT_ENTITIES, ...OPT_IN_ENTITIES, 'task']) {
        expect(b.control.listRows(table)).toEqual(a.control.listRows(table));
      }
      expect(c.control.listRows('contact')).not.toEqual(a.control.listRows('contact'));
      expect(c.control.listRows('listmember')).not.toEqual(a.control.listRows('listmember'));
      expect(a.control.count('lead')).toBe(50);
      expect(a.control.count('account')).toBe(20);
      const contacts = a.control.listRows('contact');
      expect(contacts.some((r) => r.merged === true && typeof r._masterid_value === 'string')).toBe(true);
      expect(contacts.some((r) => r.new_synctomkto === false)).toBe(true);
      expect(contacts.some((r) => r.new_synctomkto === null)).toBe(true);
      expect(contacts.filter((r) => r.new_synctomkto === true).length).toBeGreaterThan(contacts.length / 2);
      for (const r of contacts) {
        if (r._parentcustomerid_value)
          expect(a.control.getRow('account', r._parentcustomerid_value as string)).toBeDefined();
        const ownerTable = r['_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname'] as string;
        expect(a.control.getRow(ownerTable, r._ownerid_value as string)).toBeDefined();
      }
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('the CLI prints the exact banner and stops cleanly on SIGTERM', async () => {
    const root = path.resolve(__dirname, '../..');
    const child = spawn(
      process.execPath,
      [require.resolve('tsx/cli'), 'local/dataverse/cli.ts', '--port', '0', '--records', '50'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0] as string);
      });
      child.once('exit', (code) => reject(new Error(`cli exited early with ${String(code)}`)));
    });
    expect(line).toMatch(/^Dataverse simulator listening on http:\/\/127\.0\.0\.1:\d+$/);
    const url = line.replace('Dataverse simulator listening on ', '');
    expect((await fetch(`${url}/_sim/health`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);
});
