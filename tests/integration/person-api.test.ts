import { CONTAINERS } from '../../shared/config/entity.catalog';
import type { PersonRecord } from '../../shared/domain/record.model';
import { useHostStack } from './host-stack.fixture';
import { waitFor } from './polling.helpers';

type Json = Record<string, unknown>;
type Row = Record<string, unknown>;

/** The person pages and actions of the operator API, on the local stack, seen in the simulator. */
describe('person API: views side by side with Dynamics, and the person actions', () => {
  const stack = useHostStack({
    records: 30,
    env: { SYNC_ENTITIES: 'lead,contact' },
    host: { cosmosPollIntervalMs: 200 },
  });
  const url = (path: string) => `http://127.0.0.1:${stack().host?.httpPort}/api/${path}`;
  const get = async (path: string) => {
    const response = await fetch(url(path));
    return { status: response.status, json: (await response.json()) as Json };
  };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Json };
  };
  const people = () => stack().database.container(CONTAINERS.people.id);
  /** A person made on the marketing side: a people document with no Dynamics part. */
  const marketingPerson = (id: string, email: string, fields: Record<string, unknown>) =>
    people().items.create({ id, entity: 'person', email, ...fields });
  const doc = async (id: string) => (await people().item(id, id).read<Json>()).resource;
  const sim = () => stack().dataverse.control;

  beforeAll(async () => {
    await stack().host?.timers.tick('scheduler');
    await waitFor(async () => {
      const { resources } = await people()
        .items.query<number>("SELECT VALUE COUNT(1) FROM c WHERE c.type = 'contact'")
        .fetchAll();
      return (resources[0] ?? 0) > 5 ? true : undefined;
    }, 'contacts pulled');
  });

  const aContact = async (): Promise<PersonRecord> => {
    const { resources } = await people()
      .items.query<PersonRecord>(
        "SELECT * FROM c WHERE c.type = 'contact' AND IS_DEFINED(c.dynamics.contact) AND NOT IS_DEFINED(c.forgotten)",
      )
      .fetchAll();
    return resources.find(
      (p) => typeof p.email === 'string' && (p.dynamics.contact?.statecode?.value ?? 0) === 0,
    ) as PersonRecord;
  };

  it('finds a person by email and shows both sides, what was agreed and what is pending', async () => {
    const person = await aContact();
    await people()
      .item(person.id, person.id)
      .patch([{ op: 'set', path: '/jobTitle', value: 'Edited On The Marketing Side' }]);
    const found = await get(`persons?email=${encodeURIComponent(String(person.email).toUpperCase())}`);
    expect(found.status).toBe(200);
    const view = (found.json.persons as Json[]).find((p) => p.id === person.id) as Json;
    expect(view).toMatchObject({
      id: person.id,
      type: 'contact',
      marketing: { email: person.email },
      dynamics: { table: 'contact', rowId: person.dynamics.contactId, live: true, error: null },
      flags: { excluded: false, deletedInDynamics: false, mergedInto: null, forgotten: false },
    });
    const row = sim().getRow('contact', String(person.dynamics.contactId)) as Row;
    expect((view.dynamics as { values: Json }).values.email).toBe(row.emailaddress1);
    expect((await get(`persons/${person.id}`)).json.id).toBe(person.id);
  });

  it('answers 404 for an unknown person and 400 for an id that cannot be one', async () => {
    expect(await get('persons/no-such-person')).toMatchObject({
      status: 404,
      json: { error: { code: 'not_found' } },
    });
    expect((await get('persons/a%23b')).status).toBe(400);
    expect((await get('persons?email=not-an-email')).status).toBe(400);
    expect(
      (await post('persons/no-such-person/owner', { ownerId: '00000000-0000-4000-8000-000000000001' }))
        .status,
    ).toBe(404);
  });

  it('creates a marketing-only person in Dynamics, once, and links one whose email Dynamics knows', async () => {
    await marketingPerson('mkt-new-1', 'new.person@example.com', { firstName: 'Nova', lastName: 'Person' });
    const created = await post('persons/mkt-new-1/sync-to-dynamics', { as: 'lead' });
    expect(created).toMatchObject({ status: 200, json: { outcome: 'created', table: 'lead' } });
    const rowId = String(created.json.rowId);
    expect((sim().getRow('lead', rowId) as Row).emailaddress1).toBe('new.person@example.com');
    expect(await post('persons/mkt-new-1/sync-to-dynamics', { as: 'lead' })).toMatchObject({
      status: 200,
      json: { outcome: 'already-linked', rowId },
    });

    const contact = await aContact();
    await marketingPerson('mkt-known-1', String(contact.email), { firstName: 'Twin' });
    const linked = await post('persons/mkt-known-1/sync-to-dynamics', { as: 'lead' });
    // The email belongs to a contact synced under another person: no second person, no second row.
    expect(linked).toMatchObject({ status: 409, json: { error: { code: 'duplicate' } } });
    expect((await post('persons/mkt-new-1/sync-to-dynamics', { as: 'account' })).status).toBe(400);
  });

  it('creates a person that asks for it on the marketing side (syncToDynamics), through the pusher', async () => {
    await marketingPerson('mkt-asks-1', 'asks@example.com', {
      lastName: 'Asker',
      syncToDynamics: { as: 'contact' },
    });
    const settled = await waitFor(async () => {
      const current = await doc('mkt-asks-1');
      return current?.syncToDynamicsResult !== undefined ? current : undefined;
    }, 'the request carried out by the pusher');
    expect(settled.syncToDynamics).toBeUndefined();
    expect(settled.syncToDynamicsResult).toMatchObject({ status: 'created', table: 'contact' });
    const rowId = String((settled.syncToDynamicsResult as Json).rowId);
    expect((sim().getRow('contact', rowId) as Row).lastname).toBe('Asker');
  });

  it('changes the owner in Dynamics, refusing unknown and disabled users', async () => {
    const person = await aContact();
    const users = sim().listRows('systemuser') as Row[];
    const enabled = users.find((u) => u.isdisabled === false && u.systemuserid !== undefined) as Row;
    const disabled = users.find((u) => u.isdisabled === true);
    const moved = await post(`persons/${person.id}/owner`, {
      ownerId: enabled.systemuserid,
      ownerType: 'systemuser',
    });
    expect(moved).toMatchObject({ status: 200, json: { table: 'contact', ownerId: enabled.systemuserid } });
    expect((sim().getRow('contact', String(person.dynamics.contactId)) as Row)._ownerid_value).toBe(
      enabled.systemuserid,
    );
    expect(
      await post(`persons/${person.id}/owner`, { ownerId: '00000000-0000-4000-8000-00000000beef' }),
    ).toMatchObject({
      status: 422,
      json: { error: { code: 'unknown_owner' } },
    });
    // The seed always has disabled users.
    expect(disabled).toBeDefined();
    expect(await post(`persons/${person.id}/owner`, { ownerId: disabled?.systemuserid })).toMatchObject({
      status: 422,
      json: { error: { code: 'owner_disabled' } },
    });
  });

  it('creates a task regarding the person in Dynamics, due in five days by default', async () => {
    const person = await aContact();
    const created = await post(`persons/${person.id}/tasks`, {
      subject: 'Call back about the webinar',
      priority: 'high',
    });
    expect(created.status).toBe(201);
    const task = sim().getRow('task', String(created.json.taskId)) as Row;
    expect(task).toMatchObject({
      subject: 'Call back about the webinar',
      prioritycode: 2,
      _regardingobjectid_value: person.dynamics.contactId,
    });
    const due = Date.parse(String(task.scheduledend));
    expect(due - Date.now()).toBeGreaterThan(4 * 86_400_000);
    expect((await post(`persons/${person.id}/tasks`, { subject: '' })).status).toBe(400);
  });

  it('forgets a person on request: personal data gone, not brought back by the next pull, until un-suppressed', async () => {
    const person = await aContact();
    expect(await post(`persons/${person.id}/forget`, {})).toMatchObject({
      status: 200,
      json: { forgotten: true },
    });
    const forgotten = (await doc(person.id)) as Json;
    expect(forgotten.email).toBeUndefined();
    expect(forgotten.firstName).toBeUndefined();
    expect(forgotten.forgotten).toMatchObject({ by: 'local' });
    // Dynamics is untouched, and a change there does not bring the data back.
    const contactId = String(person.dynamics.contactId);
    expect(sim().getRow('contact', contactId)).toBeDefined();
    sim().updateRow('contact', contactId, { jobtitle: 'Changed After Forget' });
    await post('sync/contact', { mode: 'now' });
    await waitFor(async () => {
      const status = (await get('status')).json as {
        entities: { entity: string; lastRun: { status: string; startedAt: string } | null }[];
      };
      const run = status.entities.find((e) => e.entity === 'contact')?.lastRun;
      return run?.status === 'succeeded' ? run : undefined;
    }, 'a contact pull after the forget');
    expect(((await doc(person.id)) as Json).email).toBeUndefined();
    const view = (await get(`persons/${person.id}`)).json;
    expect(view.flags).toMatchObject({ forgotten: true });
    expect(await post(`persons/${person.id}/unforget`, {})).toMatchObject({
      status: 200,
      json: { forgotten: false },
    });
    expect(((await doc(person.id)) as Json).forgotten).toBeUndefined();
  });
});
