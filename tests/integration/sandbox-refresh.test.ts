import { randomUUID } from 'node:crypto';
import { buildCatalog, DEFAULT_SYNC_CONFIG } from '../../shared/config/sync-config.schema';
import { CosmosPeopleQueries } from '../../shared/cosmos/people.queries';
import { ORGANIZATION_CHANGED } from '../../shared/domain/checkpoint.state';
import type { PersonRecord } from '../../shared/domain/record.model';
import { InProcessJobQueue } from '../../shared/queue/in-process.job-queue';
import { ManualActions } from '../../shared/sync/manual-actions.use-case';
import { usePullStack, type PullStack } from './pull-stack.fixture';
import { pushable, usePushStack } from './push-stack.fixture';

type Row = Record<string, unknown>;

/** A sandbox refresh as Dataverse does it: the organisation answers WhoAmI with a new id. */
async function refresh(stack: PullStack): Promise<string> {
  const organizationId = randomUUID();
  const answer = await fetch(`${stack.sim.url}/_sim/organization`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ organizationId }),
  });
  expect(answer.ok).toBe(true);
  return organizationId;
}

const people = async (stack: PullStack) => (await stack.all('people')) as PersonRecord[];

async function rebaseline(stack: PullStack, entities: string[]): Promise<void> {
  const queue = new InProcessJobQueue();
  try {
    await new ManualActions({
      catalog: buildCatalog(DEFAULT_SYNC_CONFIG),
      enabledEntities: entities,
      queue,
      pullQueue: 'pull-jobs',
      pushRetryQueue: 'push-retry',
      errors: stack.errors,
      checkpoints: stack.checkpoints,
      people: stack.records('people'),
    }).rebaseline(entities);
  } finally {
    await queue.close();
  }
}

describe('sandbox refresh: the organisation id is kept with the checkpoints', () => {
  const stack = usePullStack({ records: 30, seed: 23 });

  it('records the organisation, pauses every entity when it changes, and only a rebaseline resumes', async () => {
    const before = stack().sim.control.organizationId();
    for (const entity of ['lead', 'contact', 'account']) {
      expect((await stack().pull(entity)).outcome).toBe('done');
      expect((await stack().checkpoints.get(entity))?.organizationId).toBe(before.toLowerCase());
    }

    const after = await refresh(stack());
    for (const entity of ['lead', 'contact', 'account']) {
      const result = await stack().pull(entity);
      expect(result.outcome).toBe('paused');
      expect(result.paused?.code).toBe(ORGANIZATION_CHANGED);
      expect(result.paused?.reason).toContain(after);
      expect(result.paused?.reason).toContain(before.toLowerCase());
      expect(result.paused?.reason).toMatch(/dynamics-sync rebaseline/);
      const errors = await stack().errors.list(entity);
      expect(errors.filter((e) => e.code === ORGANIZATION_CHANGED)).toHaveLength(1);
    }
    // A paused entity sends nothing; a resume is refused while the organisation differs.
    const requests = stack().dataverse.governor.counters().requests;
    expect((await stack().pull('contact')).outcome).toBe('paused');
    expect(stack().dataverse.governor.counters().requests).toBe(requests);
    const resumed = await stack().pull('contact', { resume: true });
    expect(resumed.paused?.code).toBe(ORGANIZATION_CHANGED);
    // A resync job is no way round it either: its links would mix the two environments' versions.
    const resynced = await stack().pull('contact', { resyncLoadId: 'resync:x', resume: true });
    expect(resynced.paused?.code).toBe(ORGANIZATION_CHANGED);
    // Pointing back at the original environment lifts the pause on resume.
    stack().sim.control.setOrganizationId(before);
    expect((await stack().pull('account', { resume: true })).outcome).toBe('done');
  });
});

describe('sandbox refresh in the middle of a load', () => {
  const stack = usePullStack({ records: 40, seed: 29 });

  it('a refresh between the jobs of one load pauses the next job', async () => {
    const first = await stack().pull('contact', { pageSize: 5, timeBudgetMs: 0 });
    expect(first.outcome).toBe('continue');
    await refresh(stack());
    const next = await stack().pull('contact', { pageSize: 5 });
    expect(next.outcome).toBe('paused');
    expect(next.paused?.code).toBe(ORGANIZATION_CHANGED);
    expect((await stack().checkpoints.get('contact'))?.phase).toBe('initial');
  });

  it('a refresh while a job reads pauses that job at its end, before another job follows its links', async () => {
    let refreshed = false;
    const result = await stack().pull('lead', {
      pageSize: 5,
      afterPageWrite: async ({ page }) => {
        if (page === 2 && !refreshed) {
          refreshed = true;
          await refresh(stack());
        }
      },
    });
    expect(refreshed).toBe(true);
    expect(result.outcome).toBe('paused');
    expect(result.paused?.code).toBe(ORGANIZATION_CHANGED);
    expect((await stack().errors.list('lead')).some((e) => e.code === ORGANIZATION_CHANGED)).toBe(true);
  });
});

describe('dynamics-sync rebaseline', () => {
  const stack = usePullStack({ records: 30, seed: 31 });

  it('re-reads everything, matches people by id and by email, duplicates nobody and keeps marketing data', async () => {
    const sim = stack().sim.control;
    for (const entity of ['lead', 'contact']) expect((await stack().pull(entity)).outcome).toBe('done');
    const before = await people(stack());
    const store = stack().container('people');

    // A contact-only person with a marketing edit not yet pushed, and a marketing-only person.
    const edited = before.find((p) => p.type === 'contact' && p.dynamics.leadId === undefined);
    if (edited === undefined) throw new Error('the seed has no contact-only person');
    await store.items.upsert({ ...edited, jobTitle: 'Edited in marketing', campaignScore: 42 });
    await store.items.create({ id: 'marketing-only-1', entity: 'person', email: 'nobody@example.com' });

    // The new environment is a copy in which that contact got a new id (same email), and one more
    // contact's row was renamed by a Dynamics user there.
    await refresh(stack());
    const oldRow = sim.getRow('contact', edited.dynamics.contactId as string) as Row;
    sim.deleteRow('contact', oldRow.contactid as string);
    const { contactid: _old, ...values } = oldRow;
    const copied = sim.createRow('contact', {
      firstname: values.firstname,
      lastname: values.lastname,
      emailaddress1: values.emailaddress1,
      jobtitle: values.jobtitle,
      telephone1: values.telephone1,
      new_synctomkto: true,
    });
    const newId = String(copied.contactid);

    expect((await stack().pull('contact')).paused?.code).toBe(ORGANIZATION_CHANGED);
    await rebaseline(stack(), ['lead', 'contact']);
    for (const entity of ['lead', 'contact']) {
      const result = await stack().pull(entity, { pageSize: 7 });
      expect(result.outcome).toBe('done');
      const checkpoint = await stack().checkpoints.get(entity);
      expect(checkpoint).toMatchObject({
        phase: 'delta',
        organizationId: sim.organizationId().toLowerCase(),
      });
      expect(checkpoint?.paused).toBeUndefined();
      expect(checkpoint?.rebaseline).toBeUndefined();
    }

    const after = await people(stack());
    // Nobody twice: one person per synced email, as before.
    const emails = after.flatMap((p) =>
      typeof p.email === 'string' && p.dynamics !== undefined ? [p.email] : [],
    );
    expect(new Set(emails).size).toBe(emails.length);
    expect(after).toHaveLength(before.length + 1);
    // The person whose contact got a new id holds the new row and kept its marketing data.
    const moved = after.find((p) => p.id === edited.id) as PersonRecord & Record<string, unknown>;
    expect(moved.dynamics.contactId).toBe(newId);
    expect(moved.jobTitle).toBe('Edited in marketing');
    expect(moved.campaignScore).toBe(42);
    expect(moved.sync.deletedInDynamics).toBeUndefined();
    expect(after.some((p) => p.id === newId)).toBe(false);
    expect(after.some((p) => p.id === 'marketing-only-1')).toBe(true);
    // The match is asked of people by email, and it is recorded: a later pull finds the row by id.
    expect(await new CosmosPeopleQueries(store).byEmail(String(values.emailaddress1), 5)).toHaveLength(1);
    expect((await stack().pull('contact')).stats.written).toBe(0);
  });
});

describe('pushes while the organisation changed', () => {
  const stack = usePushStack({ records: 30, seed: 37 });

  it('are held until the rebaseline, which brings the pending edit to the pusher again', async () => {
    for (const entity of ['lead', 'contact']) await stack().pull(entity);
    const person = pushable(await stack().people(), 'contact')[0] as PersonRecord;
    const contactId = person.dynamics.contactId as string;
    await refresh(stack());
    expect((await stack().pull('contact')).paused?.code).toBe(ORGANIZATION_CHANGED);

    await stack().edit(person.id, { jobTitle: 'Edited during the refresh' });
    stack().sim.control.resetCounters();
    const held = await stack()
      .useCase({ checkpoints: stack().checkpoints })
      .pushDocuments(await stack().people());
    expect(held.skipped).toBe(held.documents);
    expect(stack().sim.control.counters().total.writes).toBe(0);

    await rebaseline(stack(), ['lead', 'contact']);
    for (const entity of ['lead', 'contact']) expect((await stack().pull(entity)).outcome).toBe('done');
    // The rebaseline rewrote every person: the change feed hands them to the pusher again.
    const pushed = await stack()
      .useCase({ checkpoints: stack().checkpoints })
      .pushDocuments(await stack().people());
    expect(pushed.pushed).toBeGreaterThanOrEqual(1);
    expect(stack().sim.control.getRow('contact', contactId)?.jobtitle).toBe('Edited during the refresh');
  });
});
