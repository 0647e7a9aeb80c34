import { ServiceBusClient } from '@azure/service-bus';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import { SyncErrorRepository } from '../../shared/cosmos/sync-error.repository';
import { useHostStack } from './host-stack.fixture';
import { waitFor } from './polling.helpers';

type Json = Record<string, unknown>;

interface EntityView {
  entity: string;
  state: string;
  lastRun: { status: string; outcome: string; read: number } | null;
  lagSeconds: number | null;
  throughput: { lastHour: { read: number; written: number }; last24Hours: { read: number } };
  openErrors: number;
  paused: { code: string } | null;
}

/** The operator HTTP API on the local stack (authorization off, as on 127.0.0.1). */
describe('operator HTTP API: status, errors, retries, pause and resume', () => {
  const stack = useHostStack({ records: 40, env: { SYNC_ENTITIES: 'lead,contact,account' } });
  const url = (path: string) => `http://127.0.0.1:${stack().host?.httpPort}/api/${path}`;
  const get = async (path: string) => {
    const response = await fetch(url(path));
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) as Json };
  };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Json };
  };
  const errors = () => new SyncErrorRepository(stack().database.container(CONTAINERS.syncErrors.id));
  const status = async () =>
    (await get('status')).json() as unknown as { entities: EntityView[]; push: Json };
  const entityView = async (entity: string) =>
    (await status()).entities.find((e) => e.entity === entity) as EntityView;
  const settled = async (entity: string, state: string) =>
    waitFor(async () => {
      const view = await entityView(entity);
      return view.state === state && view.lastRun?.status !== 'running' ? view : undefined;
    }, `${entity} ${state}`);

  beforeAll(async () => {
    await stack().host?.timers.tick('scheduler');
    for (const entity of ['lead', 'contact', 'account']) await settled(entity, 'synced');
  });

  it('reports each entity: synced, caught up, lag, throughput, open errors, and the push backlog', async () => {
    const body = await status();
    expect(body.entities.map((e) => e.entity)).toEqual(['lead', 'contact', 'account']);
    const account = body.entities.find((e) => e.entity === 'account') as EntityView;
    expect(account).toMatchObject({ state: 'synced', paused: null, openErrors: 0 });
    expect(account.lastRun).toMatchObject({ status: 'succeeded', outcome: 'caught-up' });
    expect(account.lagSeconds).toEqual(expect.any(Number));
    expect(account.lagSeconds).toBeLessThan(120);
    expect(account.throughput.last24Hours.read).toBeGreaterThan(0);
    expect(account.throughput.lastHour.read).toBe(account.throughput.last24Hours.read);
    expect(body.push).toEqual({ pending: 0, retrying: 0, parked: 0, failed: 0, oldestPendingAt: null });
  });

  it('refuses what it does not understand: unknown parameters, unknown entities, oversize bodies', async () => {
    // `?mode=resync` used to be ignored and run as "now".
    expect(await post('sync/lead?mode=resync', {})).toMatchObject({
      status: 400,
      json: { error: { code: 'invalid_query' } },
    });
    // Azure's function key is the one parameter every route accepts (and never echoes).
    expect((await get('status?code=s3cret-key')).status).toBe(200);
    expect((await get('errors?code=s3cret-key&limit=nope')).text).not.toMatch(/s3cret/);
    expect((await get('errors?entity=nosuch')).status).toBe(404);
    expect((await get('errors?entity=nosuch')).json()).toMatchObject({ error: { code: 'unknown_entity' } });
    expect((await post('sync/nosuch', { mode: 'now' })).status).toBe(404);
    expect((await post('sync/lead', { mode: 'later' })).status).toBe(400);
    expect((await post('errors/retry', { errorIds: ['x'.repeat(70_000)] })).status).toBe(413);
    expect((await post('errors/retry', '{not json')).json).toMatchObject({ error: { code: 'invalid_json' } });
  });

  it('searches errors by email, code and text, pages them by continuation, and exports CSV', async () => {
    const at = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString();
    for (let n = 0; n < 5; n += 1) {
      await errors().record({
        entity: 'lead',
        recordId: `p-${n}`,
        operation: 'push',
        code: n === 0 ? 'validation' : 'privilege',
        message: n === 0 ? 'firstname: "Ada, the first", too long\nsecond line' : 'no write privilege',
        email: `person${n}@example.com`,
        at: at(n),
      });
    }
    // A formula in a message must not become a formula in a spreadsheet.
    await errors().record({
      entity: 'lead',
      recordId: 'p-9',
      operation: 'push',
      code: 'x',
      message: '=HYPERLINK(1)',
      at: at(9),
    });
    const byEmail = (await get('errors?q=PERSON3@example.com')).json() as { errors: Json[] };
    expect(byEmail.errors.map((e) => e.recordId)).toEqual(['p-3']);
    const byCode = (await get('errors?entity=lead&code=privilege')).json() as { errors: Json[] };
    expect(byCode.errors).toHaveLength(4);
    // Injection attempts are only text to look for.
    expect(
      ((await get(`errors?q=${encodeURIComponent("' OR 1=1 --")}`)).json() as { errors: Json[] }).errors,
    ).toEqual([]);

    const first = (await get('errors?entity=lead&limit=2')).json() as {
      errors: Json[];
      continuation?: string;
    };
    expect(first.errors.map((e) => e.recordId)).toEqual(['p-9', 'p-4']);
    expect(first.continuation).toEqual(expect.any(String));
    const second = (
      await get(`errors?entity=lead&limit=2&continuation=${encodeURIComponent(first.continuation as string)}`)
    ).json() as {
      errors: Json[];
    };
    expect(second.errors.map((e) => e.recordId)).toEqual(['p-3', 'p-2']);

    const csv = await get('errors?entity=lead&format=csv');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="sync-errors-/);
    const lines = csv.text.split('\r\n');
    expect(lines[0]).toBe(
      'at,entity,operation,direction,code,recordId,email,message,excerpt,resolvedAt,correlationId',
    );
    expect(csv.text).toContain('"firstname: ""Ada, the first"", too long\nsecond line"');
    expect(csv.text).toContain(",'=HYPERLINK(1),");
  });

  it('retries a failed row by reading it again, and lists ids that name no error', async () => {
    const row = stack().dataverse.control.listRows('account')[0] as Json;
    const id = String(row.accountid);
    const record = await errors().record({
      entity: 'account',
      recordId: id,
      operation: 'pull',
      code: 'invalid_row',
      message: 'name: expected text',
      at: new Date().toISOString(),
    });
    const answer = await post('errors/retry', { errorIds: [record.id, 'no-such-error'] });
    expect(answer).toEqual({
      status: 202,
      json: { queued: [record.id], unknown: ['no-such-error'], skipped: [] },
    });
    // The reread job runs in the account session and syncs the row cleanly: the error is resolved.
    await waitFor(async () => {
      const [found] = await errors().byIds([record.id]);
      return found?.resolvedAt !== undefined ? found : undefined;
    }, 'the retried error resolved');
  });

  it('pauses an entity at once and resumes it with a pull', async () => {
    expect(await post('sync/contact', { mode: 'pause' })).toEqual({
      status: 202,
      json: { entity: 'contact', paused: true },
    });
    expect(await entityView('contact')).toMatchObject({
      state: 'paused',
      paused: { code: 'paused_by_operator' },
    });
    // A scheduled job finds it paused and does nothing (sent with a slot of its own: the timer's slot
    // of this minute was taken by the first tick, and duplicate detection would drop it).
    const slot = new Date(Date.now() + 3_600_000).toISOString();
    const client = new ServiceBusClient(stack().broker.connectionString);
    await client.createSender('pull-jobs').sendMessages({
      body: {
        kind: 'pull',
        entity: 'contact',
        reason: 'schedule',
        correlationId: 'paused-1',
        slot,
        requestedAt: slot,
        sequence: 0,
      },
      sessionId: 'contact',
      messageId: `pull:contact:${slot}`,
    });
    await client.close();
    await waitFor(async () => {
      const view = await entityView('contact');
      return view.lastRun?.outcome === 'paused' ? view : undefined;
    }, 'a paused run of contact');
    expect((await post('sync/contact', { mode: 'resume' })).status).toBe(202);
    await settled('contact', 'synced');
    expect((await entityView('contact')).paused).toBeNull();
  });

  it('Validate Sync lists every check, and names what is wrong in Dynamics and the fix', async () => {
    type Report = { ok: boolean; checks: { id: string; status: string; detail: string; fix?: string }[] };
    const validate = async () => {
      const answer = await post('validate', {});
      expect(answer.status).toBe(200);
      const report = answer.json as unknown as Report;
      return { report, check: (id: string) => report.checks.find((c) => c.id === id) };
    };
    const healthy = await validate();
    expect(healthy.report.ok).toBe(true);
    expect(healthy.report.checks.filter((c) => c.status === 'fail')).toEqual([]);

    const control = stack().dataverse.control;
    control.setChangeTracking('contact', false);
    control.denyPrivilege('lead', 'write');
    try {
      const broken = await validate();
      expect(broken.report.ok).toBe(false);
      expect(broken.check('table:contact')).toMatchObject({
        status: 'fail',
        detail: expect.stringMatching(/change tracking is off/),
        fix: expect.stringMatching(/Track changes for Contact/),
      });
      expect(broken.check('privileges')).toMatchObject({
        status: 'fail',
        detail: expect.stringMatching(/write leads .*prvWriteLead/),
      });
      expect(broken.check('table:lead')?.status).toBe('pass');
    } finally {
      control.setChangeTracking('contact', true);
      control.clearPrivileges();
    }
    expect((await post('validate', { deep: true })).status).toBe(400);
  });

  it('keeps an audit trail of every operator action', async () => {
    const audit = (await get('audit?limit=50')).json() as { entries: Json[] };
    const actions = audit.entries.map((e) => `${e.action} ${e.target} ${e.outcome}`);
    expect(actions).toEqual(
      expect.arrayContaining([expect.stringMatching(/^POST \/api\/sync\/contact contact 202$/)]),
    );
    expect(audit.entries.every((e) => e.who === 'local')).toBe(true);
    // Refused requests that changed nothing (bad queries) are not actions.
    expect(actions.some((a) => a.includes('mode=resync'))).toBe(false);
  });
});
