// The real-time path on the local stack: `dynamics-sync realtime` registers the webhook in the
// simulator (idempotently), a Dynamics user's edit reaches Cosmos through notification -> pull job
// -> delta with the timer never ticking, forged and malformed notifications start nothing, and a lost
// notification is healed by the next timer run.
import type { Container } from '@azure/cosmos';
import { main } from '../../shared/cli/cli';
import { NOTIFY_HEADER } from '../../shared/domain/webhook-registration.rules';
import { useHostStack } from './host-stack.fixture';
import { waitFor } from './polling.helpers';

const SECRET = 'notify-secret-for-tests';
const PREVIOUS = 'the-secret-before-rotation';

interface Person {
  id: string;
  jobTitle?: unknown;
  dynamics: { contactId?: string };
}

describe('real-time path: webhook registration, notifications, forgeries and lost notifications', () => {
  const stack = useHostStack({
    records: 40,
    env: {
      SYNC_ENTITIES: 'lead,contact,account',
      // Ticked by hand only; every second, so each tick is a slot of its own (never a duplicate).
      SYNC_SCHEDULE: '* * * * * *',
      NOTIFY_SECRET: SECRET,
      NOTIFY_SECRET_PREVIOUS: PREVIOUS,
      NOTIFY_WINDOW_SECONDS: '1',
    },
  });
  const notifyUrl = () => `http://127.0.0.1:${stack().host?.httpPort}/api/notify`;
  const people = (): Container => stack().database.container('people');
  const sim = () => stack().dataverse;

  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['node', 'dynamics-sync', ...args], {
      env: { ...stack().env },
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      stderr: process.stderr,
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const notify = async (body: unknown, headers: Record<string, string> = { [NOTIFY_HEADER]: SECRET }) => {
    const response = await fetch(notifyUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  const notifyJobs = () =>
    stack().logs.filter((l) => l.message.includes('pull job started') && l.message.includes('notify')).length;
  /** Synced contacts whose Dynamics row is active (an edit of them reaches Cosmos). */
  const activeContacts = async (top: number): Promise<Person[]> => {
    const { resources } = await people()
      .items.query<Person>(
        `SELECT TOP ${top} * FROM c WHERE c.type = "contact" AND NOT IS_DEFINED(c.sync.excluded) AND NOT IS_DEFINED(c.sync.deletedInDynamics)`,
      )
      .fetchAll();
    return resources.filter(
      (p) => sim().control.getRow('contact', String(p.dynamics.contactId))?.statecode === 0,
    );
  };
  const contactPerson = async (): Promise<Person> => {
    const [person] = await activeContacts(5);
    if (person === undefined) throw new Error('no active synced contact');
    return person;
  };
  const jobTitleOf = async (id: string) => (await people().item(id, id).read<Person>()).resource?.jobTitle;
  const validContext = (overrides: Record<string, unknown> = {}) => ({
    MessageName: 'Update',
    PrimaryEntityName: 'contact',
    PrimaryEntityId: '5b2d9a0e-0c1f-4c57-9d3a-000000000001',
    OrganizationId: sim().control.organizationId(),
    InitiatingUserId: sim().control.defaultUserId(),
    Depth: 1,
    InputParameters: [],
    ...overrides,
  });

  beforeAll(async () => {
    await stack().host?.timers.tick('scheduler');
    await waitFor(async () => {
      const { resources } = await people().items.query('SELECT VALUE COUNT(1) FROM c').fetchAll();
      return Number(resources[0]) > 0 ? true : undefined;
    }, 'the first load');
    // The first load's runs must be over before the tests count notify jobs and edits.
    await waitFor(async () => {
      const status = (await (await fetch(notifyUrl().replace('/notify', '/status'))).json()) as {
        entities: { state: string; lastRun: { status: string } | null }[];
      };
      return status.entities.every((e) => e.state === 'synced' && e.lastRun?.status !== 'running')
        ? true
        : undefined;
    }, 'every entity synced');
    await fetch(`${sim().url}/_sim/webhooks`, { method: 'POST', body: JSON.stringify({ delayMs: 200 }) });
  });

  it('registers the endpoint and one step per message and table, idempotently, and removes them again', async () => {
    const before = await cli('realtime', 'status');
    expect(before).toMatchObject({ code: 0 });
    expect(before.out).toContain('endpoint: not registered');
    expect(before.out).toContain('missing: Create lead');

    const first = await cli('realtime', 'enable', '--url', notifyUrl());
    expect(first.err).toBe('');
    expect(first.out).toContain('endpoint: created');
    expect(first.out).toContain('Merge contact');
    expect(first.out).toContain('QualifyLead lead');
    // Pairs Dataverse has no filter for are skipped, not guessed.
    expect(first.out).toMatch(/not offered by Dataverse \(skipped\): .*QualifyLead contact/);
    const steps = sim().control.count('sdkmessageprocessingstep');
    expect(steps).toBe(3 * 5 + 3 + 1); // Create, Update, Delete, Assign, SetState x 3; Merge x 3; QualifyLead

    const again = await cli('realtime', 'enable', '--url', notifyUrl());
    expect(again.out).toContain('endpoint: unchanged');
    expect(again.out).toContain('steps created: none');
    expect(again.out).toContain('steps removed: none');
    expect(sim().control.count('sdkmessageprocessingstep')).toBe(steps);

    const status = JSON.parse((await cli('realtime', 'status', '--json')).out) as {
      endpoint: { url: string };
      registered: unknown[];
      missing: unknown[];
      extra: unknown[];
    };
    expect(status).toMatchObject({ endpoint: { url: notifyUrl() }, missing: [], extra: [] });
    expect(status.registered).toHaveLength(steps);

    expect((await cli('realtime', 'disable')).out).toContain(`removed ${steps} step(s) and the endpoint`);
    expect(sim().control.count('sdkmessageprocessingstep')).toBe(0);
    expect(sim().control.count('serviceendpoint')).toBe(0);
    expect((await cli('realtime', 'disable')).out).toContain('nothing registered');

    expect((await cli('realtime', 'enable', '--url', notifyUrl())).code).toBe(0);
  });

  it('refuses to enable without a secret or with a URL Dataverse would not call', async () => {
    const noSecret = await main(['node', 'dynamics-sync', 'realtime', 'enable', '--url', notifyUrl()], {
      env: { ...stack().env, NOTIFY_SECRET: '' },
      out: () => undefined,
      err: () => undefined,
      stderr: process.stderr,
    });
    expect(noSecret).toBe(2);
    const plain = await cli('realtime', 'enable', '--url', 'http://example.com/api/notify');
    expect(plain).toMatchObject({ code: 2, err: expect.stringContaining('must be https://') });
  });

  it('brings a Dynamics edit into Cosmos through the notification, with the timer never ticking', async () => {
    const person = await contactPerson();
    const jobs = notifyJobs();
    const title = `Realtime ${Date.now()}`;
    sim().control.updateRow('contact', String(person.dynamics.contactId), { jobtitle: title });
    await waitFor(
      async () => ((await jobTitleOf(person.id)) === title ? true : undefined),
      'the edit in Cosmos',
      20_000,
    );
    expect(notifyJobs()).toBeGreaterThan(jobs);
  });

  it('folds a burst of edits of one table into few pull jobs', async () => {
    const active = await activeContacts(10);
    const jobs = notifyJobs();
    const title = `Burst ${Date.now()}`;
    for (const p of active)
      sim().control.updateRow('contact', String(p.dynamics.contactId), { jobtitle: title });
    for (const p of active)
      await waitFor(
        async () => ((await jobTitleOf(p.id)) === title ? true : undefined),
        'the burst in Cosmos',
        20_000,
      );
    // One window (1 s) holds the burst: its opening and closing jobs; deliveries straddling its end
    // may open a second window. Never one job per edit.
    expect(notifyJobs() - jobs).toBeGreaterThanOrEqual(1);
    expect(notifyJobs() - jobs).toBeLessThanOrEqual(4);
    expect(active.length).toBeGreaterThan(4);
  });

  it('answers a forged notification 401 and a malformed one 400, and starts nothing', async () => {
    // Jobs the tests above queued (a closing job is due a window later) start first.
    const jobs = await waitFor(async () => {
      const before = notifyJobs();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      return notifyJobs() === before ? before : undefined;
    }, 'the earlier jobs to start');
    expect(await notify(validContext(), {})).toMatchObject({
      status: 401,
      json: { error: { code: 'unauthenticated' } },
    });
    expect(await notify(validContext(), { [NOTIFY_HEADER]: 'guess' })).toMatchObject({ status: 401 });
    expect((await notify(validContext(), { [NOTIFY_HEADER]: `${SECRET}x` })).status).toBe(401);
    expect((await notify('not json')).json).toMatchObject({ error: { code: 'invalid_json' } });
    const missing = await notify({ MessageName: 'Update', PrimaryEntityName: 'contact' });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.json)).toContain('PrimaryEntityId');
    expect((await notify(validContext({ PrimaryEntityId: 'not-a-guid' }))).status).toBe(400);
    expect((await notify(validContext({ Depth: 0 }))).status).toBe(400);
    expect(
      await notify(validContext({ OrganizationId: '00000000-0000-4000-8000-000000000001' })),
    ).toMatchObject({
      status: 403,
      json: { error: { code: 'wrong_organization' } },
    });
    expect(await notify(validContext({ PrimaryEntityName: 'task' }))).toMatchObject({
      status: 422,
      json: { error: { code: 'table_not_synced' } },
    });
    const big = await fetch(notifyUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', [NOTIFY_HEADER]: SECRET },
      body: JSON.stringify(validContext({ Padding: 'x'.repeat(600 * 1024) })),
    });
    expect(big.status).toBe(413);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(notifyJobs()).toBe(jobs);
  });

  it('accepts the previous secret during a rotation and the code query key', async () => {
    expect((await notify(validContext(), { [NOTIFY_HEADER]: PREVIOUS })).status).toBe(202);
    const viaCode = await fetch(`${notifyUrl()}?code=${encodeURIComponent(SECRET)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(validContext()),
    });
    expect(viaCode.status).toBe(202);
    expect(((await viaCode.json()) as { queued: { entity: string } }).queued.entity).toBe('contact');
  });

  it("skips a notification of the sync's own direct change, not a plug-in's follow-up to it", async () => {
    const own = { InitiatingUserId: sim().control.appUserId() };
    expect(await notify(validContext(own))).toMatchObject({ status: 200, json: { ignored: 'own_change' } });
    expect((await notify(validContext({ ...own, Depth: 2 }))).status).toBe(202);
  });

  it('heals a lost notification on the next timer run', async () => {
    // Jobs the tests above queued (scheduled a window ahead) must be over, or one of them reads the edit.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await fetch(`${sim().url}/_sim/webhooks`, { method: 'POST', body: JSON.stringify({ enabled: false }) });
    try {
      const person = await contactPerson();
      const title = `Lost ${Date.now()}`;
      sim().control.updateRow('contact', String(person.dynamics.contactId), { jobtitle: title });
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(await jobTitleOf(person.id)).not.toBe(title);
      await stack().host?.timers.tick('scheduler');
      await waitFor(
        async () => ((await jobTitleOf(person.id)) === title ? true : undefined),
        'the timer run',
      );
    } finally {
      await fetch(`${sim().url}/_sim/webhooks`, { method: 'POST', body: JSON.stringify({ enabled: true }) });
    }
  });
});
