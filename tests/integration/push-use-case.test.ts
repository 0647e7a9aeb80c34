import { pushStateOf } from '../../shared/domain/push.planner';
import type { PersonRecord } from '../../shared/domain/record.model';
import { pullPushable, usePushStack } from './push-stack.fixture';

type Row = Record<string, unknown>;

describe('push: marketing edits reach Dynamics, steady state is quiet', () => {
  const stack = usePushStack({ records: 40, seed: 31 });
  let leads: PersonRecord[];
  let contacts: PersonRecord[];
  const row = (table: string, id: string) => stack().sim.control.getRow(table, id) as Row;
  const cycle = async () => {
    await stack().pull('lead');
    await stack().pull('contact');
    return stack().pushAll();
  };

  beforeAll(async () => {
    ({ leads, contacts } = await pullPushable(stack(), ['lead', 'contact'], { leads: 4, contacts: 4 }));
  });

  it('right after a pull there is nothing to push: no request, no write', async () => {
    const before = stack().writes();
    const summary = await stack().pushAll();
    expect(summary.requests).toBe(0);
    expect(summary.pushed).toBe(0);
    expect(summary.inSync).toBeGreaterThan(0);
    expect(stack().writes()).toEqual(before);
  });

  it('pushes edits in one $batch, records agreed values; pull -> push -> pull then a further cycle writes nothing', async () => {
    const [a, b] = leads as [PersonRecord, PersonRecord];
    const [c] = contacts as [PersonRecord];
    await stack().edit(a.id, { jobTitle: 'Head of Growth', phone: '+1 555 0101' });
    await stack().edit(b.id, { lastName: 'Marketing-Edited' });
    await stack().edit(c.id, { firstName: 'Cee', email: 'cee@example.com' });
    stack().sim.control.resetCounters();

    const summary = await stack().pushAll();
    expect(summary).toMatchObject({ pushed: 3, requests: 1, rejected: 0, retrying: 0, conflicts: 0 });
    expect(stack().sim.control.counters().total).toMatchObject({ requests: 1, writes: 3 });
    expect(row('lead', String(a.dynamics.leadId))).toMatchObject({
      jobtitle: 'Head of Growth',
      telephone1: '+1 555 0101',
    });
    expect(row('lead', String(b.dynamics.leadId)).lastname).toBe('Marketing-Edited');
    expect(row('contact', String(c.dynamics.contactId))).toMatchObject({
      firstname: 'Cee',
      emailaddress1: 'cee@example.com',
    });
    const recorded = await stack().person(a.id);
    expect(recorded.sync.agreed).toMatchObject({ jobTitle: 'Head of Growth', phone: '+1 555 0101' });
    expect(recorded.dynamics.etag).toBe(row('lead', String(a.dynamics.leadId))['@odata.etag']);

    await cycle();
    await cycle();
    const before = stack().writes();
    stack().sim.control.resetCounters();
    const last = await cycle();
    expect(last.requests).toBe(0);
    expect(stack().writes().cosmos).toBe(before.cosmos);
    expect(stack().sim.control.counters().total.writes).toBe(0);
  });

  it('the pull after a push writes nothing to Cosmos (the returned row is already recorded)', async () => {
    const [, , d] = leads as [PersonRecord, PersonRecord, PersonRecord];
    await stack().edit(d.id, { company: 'Pushed Co' });
    await stack().pushAll();
    const before = stack().writes().cosmos;
    await stack().pull('lead');
    expect(stack().writes().cosmos).toBe(before);
    expect((await stack().person(d.id)).company).toBe('Pushed Co');
  });

  it('concurrent edits on both sides settle field by field (lead: marketing wins; contact: Dynamics wins)', async () => {
    const lead = leads[3] as PersonRecord;
    const contact = contacts[1] as PersonRecord;
    const leadId = String(lead.dynamics.leadId);
    const contactId = String(contact.dynamics.contactId);
    // Same field on both sides, plus one field edited on each side only.
    await stack().edit(lead.id, { jobTitle: 'Marketing Title', lastName: 'Marketing Last' });
    stack().sim.control.updateRow('lead', leadId, { jobtitle: 'Sales Title', telephone1: '+2 222' });
    await stack().edit(contact.id, { jobTitle: 'Marketing Title', lastName: 'Marketing Last' });
    stack().sim.control.updateRow('contact', contactId, { jobtitle: 'Sales Title', telephone1: '+3 333' });

    const summary = await stack().pushAll();
    expect(summary.conflicts).toBe(2);
    expect(row('lead', leadId)).toMatchObject({
      jobtitle: 'Marketing Title',
      lastname: 'Marketing Last',
      telephone1: '+2 222',
    });
    expect(row('contact', contactId)).toMatchObject({
      jobtitle: 'Sales Title',
      lastname: 'Marketing Last',
      telephone1: '+3 333',
    });
    const [pl, pc] = [await stack().person(lead.id), await stack().person(contact.id)];
    expect(pl).toMatchObject({ jobTitle: 'Marketing Title', lastName: 'Marketing Last', phone: '+2 222' });
    expect(pc).toMatchObject({ jobTitle: 'Sales Title', lastName: 'Marketing Last', phone: '+3 333' });

    // Settled: a further cycle sends and writes nothing.
    await cycle();
    const before = stack().writes();
    stack().sim.control.resetCounters();
    expect((await cycle()).requests).toBe(0);
    expect(stack().writes().cosmos).toBe(before.cosmos);
  });

  it('when the pull sees the conflict first, the push that follows sends the marketing winner only', async () => {
    const lead = leads[0] as PersonRecord;
    const contact = contacts[2] as PersonRecord;
    const leadId = String(lead.dynamics.leadId);
    const contactId = String(contact.dynamics.contactId);
    await stack().edit(lead.id, { firstName: 'Mkt First' });
    stack().sim.control.updateRow('lead', leadId, { firstname: 'Crm First', jobtitle: 'Crm Title' });
    await stack().edit(contact.id, { firstName: 'Mkt First' });
    stack().sim.control.updateRow('contact', contactId, { firstname: 'Crm First' });
    await stack().pull('lead');
    await stack().pull('contact');
    const summary = await stack().pushAll();
    expect(summary.conflicts).toBe(0);
    expect(row('lead', leadId)).toMatchObject({ firstname: 'Mkt First', jobtitle: 'Crm Title' });
    expect(row('contact', contactId).firstname).toBe('Crm First');
    expect((await stack().person(contact.id)).firstName).toBe('Crm First');
  });

  it('a crash after the Dynamics write and before the agreed values are recorded: the replay converges, no double effect', async () => {
    const lead = leads[1] as PersonRecord;
    const leadId = String(lead.dynamics.leadId);
    await stack().edit(lead.id, { jobTitle: 'Crash Test' });
    const crash = new Error('worker died');
    await expect(
      stack()
        .useCase({ afterDynamicsWrite: () => Promise.reject(crash) })
        .pushDocuments(await stack().people()),
    ).rejects.toBe(crash);
    const written = row('lead', leadId);
    expect(written.jobtitle).toBe('Crash Test');
    const versionAfterWrite = Number(written.versionnumber);
    expect((await stack().person(lead.id)).sync.agreed.jobTitle).not.toBe('Crash Test');

    // Replay: the PATCH 412s on our own write, the re-merge finds nothing left to send.
    const replay = await stack().pushAll();
    expect(replay.pushed).toBe(0);
    expect(replay.settled).toBe(1);
    expect(Number(row('lead', leadId).versionnumber)).toBe(versionAfterWrite);
    const person = await stack().person(lead.id);
    expect(person.sync.agreed.jobTitle).toBe('Crash Test');
    expect(person.jobTitle).toBe('Crash Test');
    expect(pushStateOf(person)).toBeUndefined();
    await cycle();
    stack().sim.control.resetCounters();
    expect((await cycle()).requests).toBe(0);
    expect(stack().sim.control.counters().total.writes).toBe(0);
  });
});
