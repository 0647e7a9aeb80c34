import type { VerifyReport } from '../../shared/app/verify.composition';
import { main, type CliIo } from '../../shared/cli/cli';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import { buildCatalog, DEFAULT_SYNC_CONFIG } from '../../shared/config/sync-config.schema';
import { buildEntityProfile } from '../../shared/domain/entity.profile';
import { PUSH_STATE_KEY, pendingEdits, pushSignature } from '../../shared/domain/push.planner';
import type { GenericRecord, PersonRecord } from '../../shared/domain/record.model';
import { syncEveryEntity, useHostStack } from './host-stack.fixture';
import { waitFor } from './polling.helpers';

type Row = Record<string, unknown>;

/**
 * `dynamics-sync verify` against deliberate drift of every kind, then `--repair` and a second
 * verify that finds none. The Dynamics side of accounts drifts while the entity is paused, so no
 * pull can settle it and nothing of it is in flight.
 */
describe('dynamics-sync verify: drift audit and repair', () => {
  const stack = useHostStack({ records: 30, env: { SYNC_ENTITIES: 'lead,contact,account' } });
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = { env: stack().env, out: (line) => out.push(line), err: (line) => err.push(line) };
    const code = await main(['node', 'dynamics-sync', ...args], io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const verify = async (...args: string[]) => {
    const result = await run(['verify', '--json', ...args]);
    return { code: result.code, report: JSON.parse(result.out) as VerifyReport, err: result.err };
  };
  const container = (key: 'people' | 'accounts') => stack().database.container(CONTAINERS[key].id);
  const rows = (table: string) => stack().dataverse.control.listRows(table) as Row[];
  /** Rewrites a stored person's Dynamics part (and any other fields) behind the sync's back. */
  const replaceDynamics = (person: PersonRecord, dynamics: object, other: object = {}) =>
    container('people')
      .item(person.id, person.id)
      .replace({ ...person, dynamics: { ...person.dynamics, ...dynamics }, ...other });
  let qualifiedLeadId = '';
  const anyContactId = async () =>
    (await container('people').items.readAll<PersonRecord>().fetchAll()).resources.find(
      (p) => p.type === 'contact' && p.sync.deletedInDynamics === undefined && p.sync.excluded === undefined,
    )?.dynamics.contactId;
  // Accounts no lead or contact points at: renaming one would change their lookup names too (a
  // drift of its own, which verify reports on those rows).
  let ownAccounts: string[] = [];

  beforeAll(async () => {
    // These rows are stamped ten minutes back: well before the first pull, so never in flight.
    stack().dataverse.control.advanceClock(-10 * 60_000);
    // A lead qualified into a contact before the first sync: one person following the contact.
    const lead = stack().dataverse.control.createRow('lead', { firstname: 'Mary', lastname: 'Jackson' });
    qualifiedLeadId = String(lead.leadid);
    stack().dataverse.control.qualify(qualifiedLeadId, {
      createContact: true,
      createAccount: false,
      createOpportunity: false,
    });
    ownAccounts = ['Missing', 'Gone', 'Excluded', 'Changed'].map((name) =>
      String(stack().dataverse.control.createRow('account', { name, new_synctomkto: true }).accountid),
    );
    stack().dataverse.control.advanceClock(10 * 60_000);
    await syncEveryEntity(stack());
  });

  it('finds no drift after a sync, and refuses an unknown entity', async () => {
    const clean = await verify();
    expect(clean.report.drift).toBe(0);
    expect(clean.code).toBe(0);
    const account = clean.report.entities.find((e) => e.entity === 'account');
    expect(account?.counts.rows).toBe(rows('account').length);
    expect((await run(['verify', '--entity', 'nosuch'])).code).toBe(2);
  });

  it('reports every kind of drift with its record and field, repairs it, and verifies clean', async () => {
    // Accounts: paused, so the pull sees none of what follows in Dynamics.
    expect((await run(['pause', 'account'])).code).toBe(0);
    const [missing, gone, excluded, changed] = ownAccounts;
    if (!missing || !gone || !excluded || !changed) throw new Error('seed has too few accounts');
    await container('accounts').item(missing, missing).delete();
    stack().dataverse.control.deleteRow('account', gone);
    stack().dataverse.control.updateRow('account', excluded, { new_synctomkto: false });
    stack().dataverse.control.updateRow('account', changed, { name: 'Renamed In Dynamics' });

    // Leads: a stored copy made older than Dynamics, and the qualified lead's person left flagged
    // deleted when its contact was deleted (what the incremental path used to do).
    const people = (await container('people').items.readAll<PersonRecord>().fetchAll()).resources;
    const leadPerson = people.find(
      (p) => p.type === 'lead' && p.dynamics.lead !== undefined && p.id !== qualifiedLeadId,
    ) as PersonRecord;
    const leadSource = leadPerson.dynamics.lead as NonNullable<PersonRecord['dynamics']['lead']>;
    await replaceDynamics(leadPerson, {
      lead: {
        ...leadSource,
        versionnumber: leadSource.versionnumber - 1,
        hash: 'older',
        values: { ...leadSource.values, jobtitle: 'Older Title' },
      },
    });
    const qualified = people.find((p) => p.id === qualifiedLeadId) as PersonRecord;
    expect(qualified.type).toBe('contact');
    stack().dataverse.control.deleteRow('contact', qualified.dynamics.contactId as string);
    const at = new Date().toISOString();
    await replaceDynamics(
      qualified,
      { contact: { ...(qualified.dynamics.contact as object), deletedAt: at } },
      { sync: { ...qualified.sync, deletedInDynamics: { at } } },
    );

    // Contacts: a marketing edit whose pushes were parked.
    const contactPerson = people.find(
      (p) =>
        p.type === 'contact' &&
        p.id !== qualifiedLeadId &&
        p.sync.excluded === undefined &&
        p.sync.merged === undefined &&
        p.sync.deletedInDynamics === undefined,
    ) as PersonRecord;
    const rules = buildEntityProfile(
      buildCatalog(DEFAULT_SYNC_CONFIG).get('contact'),
      DEFAULT_SYNC_CONFIG,
    ).personFields;
    const edited = { ...contactPerson, jobTitle: 'Edited And Parked' };
    const target = {
      table: 'contact' as const,
      rowId: contactPerson.dynamics.contactId as string,
      etag: contactPerson.dynamics.etag,
    };
    await container('people')
      .item(edited.id, edited.id)
      .replace({
        ...edited,
        [PUSH_STATE_KEY]: {
          status: 'parked',
          code: 'unavailable',
          message: 'Dynamics did not answer',
          at,
          attempt: 8,
          signature: pushSignature(target, pendingEdits(edited, rules)),
        },
      });

    const drifted = await verify();
    expect(drifted.code).toBe(1);
    expect(drifted.report.findings).toEqual({
      missing_in_cosmos: 1,
      gone_from_dynamics: 1,
      stale: 3,
      unpushed: 1,
      excluded: 1,
    });
    const sample = drifted.report.entities.flatMap((e) => e.sample);
    const finding = (code: string, id: string) => sample.find((f) => f.code === code && f.id === id);
    expect(finding('missing_in_cosmos', missing)).toMatchObject({ entity: 'account' });
    expect(finding('gone_from_dynamics', gone)).toMatchObject({ entity: 'account' });
    expect(finding('excluded', excluded)).toMatchObject({ fields: ['new_synctomkto'] });
    expect(finding('stale', changed)).toMatchObject({ fields: ['name'] });
    expect(finding('stale', leadSource.id)).toMatchObject({ entity: 'lead', fields: ['jobtitle'] });
    expect(finding('stale', qualifiedLeadId)).toMatchObject({
      entity: 'lead',
      fields: ['deletedInDynamics'],
    });
    expect(finding('unpushed', contactPerson.id)).toMatchObject({ entity: 'contact', fields: ['jobTitle'] });
    // The result is kept with the run history and shown by the status.
    const status = JSON.parse((await run(['status', '--json'])).out) as {
      entities: { entity: string; verify: { drift: number; findings: Record<string, number> } | null }[];
    };
    expect(status.entities.find((e) => e.entity === 'account')?.verify).toMatchObject({
      drift: 3 + 1,
      findings: { missing_in_cosmos: 1, gone_from_dynamics: 1, excluded: 1, stale: 1 },
    });

    const repaired = await verify('--repair');
    expect(repaired.report.repair).toMatchObject({ driftBefore: 7, pushed: 1 });
    expect(repaired.report.drift).toBe(0);
    expect(repaired.code).toBe(0);

    // Nothing was deleted on the marketing side: the gone account is flagged, the person kept.
    const goneDoc = (await container('accounts').item(gone, gone).read<GenericRecord>()).resource;
    expect(goneDoc?.sync.deletedInDynamics?.at).toEqual(expect.any(String));
    const back = (await container('people').item(qualifiedLeadId, qualifiedLeadId).read<PersonRecord>())
      .resource as PersonRecord;
    expect(back).toMatchObject({ type: 'lead' });
    expect(back.sync.deletedInDynamics).toBeUndefined();
    expect(stack().dataverse.control.getRow('contact', target.rowId)?.jobtitle).toBe('Edited And Parked');

    const again = await run(['verify']);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/no drift/);
    expect((await run(['resume', 'account'])).code).toBe(0);
  });
  it("an account renamed in Dynamics: its contacts' company is refreshed by verify, which counts it apart from drift", async () => {
    const people = (await container('people').items.readAll<PersonRecord>().fetchAll()).resources;
    const holder = people.find(
      (p) =>
        p.type === 'contact' &&
        p.sync.deletedInDynamics === undefined &&
        p.sync.excluded === undefined &&
        typeof stack().dataverse.control.getRow('contact', p.dynamics.contactId as string)
          ?._parentcustomerid_value === 'string',
    ) as PersonRecord;
    const accountId = String(
      stack().dataverse.control.getRow('contact', holder.dynamics.contactId as string)
        ?._parentcustomerid_value,
    );
    const holders = rows('contact').filter((r) => r._parentcustomerid_value === accountId).length;
    stack().dataverse.control.updateRow('account', accountId, { name: 'Renamed Parent Ltd' });
    await syncEveryEntity(stack());
    // The account's own change came through the feed; its contacts' rows did not change.
    const stale = (await container('people').item(holder.id, holder.id).read<PersonRecord>()).resource;
    expect(stale?.company).not.toBe('Renamed Parent Ltd');

    // Paused, the entity reads nothing on its own: the renamed rows are counted, not read.
    expect((await run(['pause', 'contact'])).code).toBe(0);
    const paused = await verify('--entity', 'contact');
    expect(paused.report.entities[0]?.counts.renamed).toBe(holders);
    expect(paused.report.renamedReread).toEqual({});
    expect((await run(['resume', 'contact'])).code).toBe(0);
    await syncEveryEntity(stack());

    const first = await verify('--entity', 'contact');
    expect(first.code).toBe(0);
    expect(first.report.drift).toBe(0);
    // The resumed pull may have brought a holder that changed meanwhile; the rest verify reads again.
    const renamed = first.report.entities[0]?.counts.renamed ?? 0;
    expect(renamed).toBeGreaterThan(0);
    expect(renamed).toBeLessThanOrEqual(holders);
    expect(first.report.renamedReread).toEqual({ contact: renamed });
    const fresh = (await container('people').item(holder.id, holder.id).read<PersonRecord>()).resource;
    expect(fresh?.company).toBe('Renamed Parent Ltd');
    const second = await verify('--entity', 'contact');
    expect(second.report.entities[0]?.counts.renamed).toBe(0);
    expect(second.report.renamedReread).toEqual({});
  });

  it('POST /api/verify queues verify jobs the puller runs; their result shows in GET /api/status', async () => {
    const url = (path: string) => `http://127.0.0.1:${stack().host?.httpPort}/api/${path}`;
    const post = async (body: unknown) => {
      const response = await fetch(url('verify'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, json: (await response.json()) as Record<string, unknown> };
    };
    type View = { entity: string; verify: { at: string; drift: number; findings: object } | null };
    const verifyOf = async (entity: string) => {
      const status = (await (await fetch(url('status'))).json()) as { entities: View[] };
      return status.entities.find((e) => e.entity === entity)?.verify ?? null;
    };
    expect((await post({ entities: ['nosuch'] })).status).toBe(404);
    expect((await post({ repair: 'yes' })).status).toBe(400);
    const before = (await verifyOf('contact'))?.at ?? '';
    stack().dataverse.control.deleteRow('contact', (await anyContactId())!);
    // Paused: the deletion cannot be in flight, so the job's verify must report it.
    expect((await run(['pause', 'contact'])).code).toBe(0);
    const queued = await post({ entities: ['contact'] });
    expect(queued.status).toBe(202);
    expect(queued.json.jobs).toEqual([expect.objectContaining({ kind: 'verify', entity: 'contact' })]);
    const result = await waitFor(async () => {
      const verify = await verifyOf('contact');
      return verify !== null && verify.at > before ? verify : undefined;
    }, 'the verify job ran');
    expect(result).toMatchObject({ drift: 1, findings: { gone_from_dynamics: 1 } });

    // The timer queues a repairing-free verify of every synced entity.
    await stack().host?.timers.tick('verify');
    await waitFor(async () => {
      const verify = await verifyOf('account');
      return verify !== null && verify.at > result.at ? verify : undefined;
    }, 'the scheduled verify ran');
    expect((await run(['verify', '--entity', 'contact', '--repair'])).code).toBe(0);
    expect((await run(['resume', 'contact'])).code).toBe(0);
  });
});
