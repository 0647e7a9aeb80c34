import { pushStateOf } from '../../shared/domain/push.planner';
import type { PersonRecord } from '../../shared/domain/record.model';
import type { SyncErrorRecord } from '../../shared/domain/sync-error.model';
import { manualRetryMessage, pushRetryMessageSchema } from '../../shared/sync/push-retry.message';
import { pullPushable, usePushStack } from './push-stack.fixture';
import { DataversePersonRowGateway } from '../../shared/dataverse/person-row.gateway';

type Row = Record<string, unknown>;

describe('push: rejections, transient faults and bad documents', () => {
  const stack = usePushStack({ records: 40, seed: 41 });
  let leads: PersonRecord[];
  let contacts: PersonRecord[];
  const row = (table: string, id: string) => stack().sim.control.getRow(table, id) as Row | undefined;
  const errorsOf = async (entity: string): Promise<SyncErrorRecord[]> => stack().errors.list(entity, 500);
  const impatient = () => ({ rows: new DataversePersonRowGateway(stack().impatient.client) });

  beforeAll(async () => {
    ({ leads, contacts } = await pullPushable(stack(), ['lead', 'contact', 'account'], {
      leads: 6,
      contacts: 3,
    }));
  });
  afterEach(() => {
    stack().sim.control.clearFaults();
    stack().queue.take();
  });

  it('a validation rejection becomes an error record and the person shows it; the batch goes on; not retried forever', async () => {
    const [bad, good] = leads as [PersonRecord, PersonRecord];
    const tooLong = 'N'.repeat(80); // lead firstname holds 50 characters
    await stack().edit(bad.id, { firstName: tooLong });
    await stack().edit(good.id, { jobTitle: 'Still Pushed' });
    const summary = await stack().pushAll();
    expect(summary).toMatchObject({ rejected: 1, pushed: 1, requests: 1 });
    expect(row('lead', String(good.dynamics.leadId))?.jobtitle).toBe('Still Pushed');
    expect(row('lead', String(bad.dynamics.leadId))?.firstname).not.toBe(tooLong);

    const errors = (await errorsOf('lead')).filter((e) => e.recordId === bad.id);
    expect(errors).toEqual([
      expect.objectContaining({ operation: 'push', direction: 'marketing-to-dynamics', code: 'validation' }),
    ]);
    expect(errors[0]?.message).toMatch(/firstname/);
    expect(pushStateOf(await stack().person(bad.id))).toMatchObject({ status: 'error', code: 'validation' });

    // The same edit is not sent again, however often the document is delivered.
    stack().sim.control.resetCounters();
    const again = await stack().pushAll();
    expect(again.requests).toBe(0);
    expect(stack().sim.control.counters().total.requests).toBe(0);

    // A corrected edit goes through and clears the state; its error is resolved, not open any more.
    await stack().edit(bad.id, { firstName: 'Fixed' });
    expect((await stack().pushAll()).pushed).toBe(1);
    expect(row('lead', String(bad.dynamics.leadId))?.firstname).toBe('Fixed');
    expect(pushStateOf(await stack().person(bad.id))).toBeUndefined();
    expect((await errorsOf('lead')).filter((e) => e.recordId === bad.id)).toEqual([]);
    expect((await stack().errors.list('lead', 100, true)).filter((e) => e.recordId === bad.id)).toEqual([
      expect.objectContaining({ code: 'validation', resolvedAt: expect.any(String) }),
    ]);
  });

  it('a missing privilege (403) becomes an error record with its reason and is not retried', async () => {
    const person = contacts[1] as PersonRecord;
    const contactId = String(person.dynamics.contactId);
    const before = row('contact', contactId)?.jobtitle;
    stack().sim.control.denyPrivilege('contact', 'write');
    try {
      await stack().edit(person.id, { jobTitle: 'Not Allowed' });
      const summary = await stack().pushAll();
      expect(summary).toMatchObject({ rejected: 1, retrying: 0, parked: 0 });
      expect(stack().queue.take()).toEqual([]);
      expect(row('contact', contactId)?.jobtitle).toBe(before);
      const errors = (await errorsOf('contact')).filter((e) => e.recordId === person.id);
      expect(errors).toEqual([expect.objectContaining({ operation: 'push', code: 'forbidden' })]);
      expect(errors[0]?.message).toMatch(/prvWriteContact/);
      expect(pushStateOf(await stack().person(person.id))).toMatchObject({
        status: 'error',
        code: 'forbidden',
      });
    } finally {
      stack().sim.control.clearPrivileges();
    }
    // Once the role is fixed, a new edit of the person goes through.
    await stack().edit(person.id, { jobTitle: 'Allowed Now' });
    expect((await stack().pushAll()).pushed).toBe(1);
    expect(row('contact', contactId)?.jobtitle).toBe('Allowed Now');
  });

  it('transient faults go to the retry queue with exponential backoff, then park; nothing is lost', async () => {
    const person = leads[2] as PersonRecord;
    const leadId = String(person.dynamics.leadId);
    await stack().edit(person.id, { jobTitle: 'Eventually' });
    stack().sim.control.failNext({ status: 503, count: 100, pathPattern: '\\$batch' });

    const started = Date.now();
    const first = await stack().pushAll({}, impatient());
    expect(first.retrying).toBe(1);
    const [message] = stack().queue.take();
    if (message === undefined) throw new Error('nothing scheduled');
    const body = pushRetryMessageSchema.parse(message.body);
    expect(body).toMatchObject({
      attempt: 1,
      persons: [{ id: person.id }],
      lastError: { code: 'server_error' },
    });
    const delay1 = (message.scheduledAt?.getTime() ?? 0) - started;
    expect(delay1).toBeGreaterThanOrEqual(1000);
    expect(delay1).toBeLessThan(3000);
    expect(pushStateOf(await stack().person(person.id))).toMatchObject({ status: 'retrying', attempt: 1 });

    // The change feed delivering the person again does not start a second chain.
    stack().sim.control.resetCounters();
    expect((await stack().pushAll({}, impatient())).requests).toBe(0);

    const second = await stack().retry(message, impatient());
    expect(second).toMatchObject({ status: 'done', summary: { retrying: 1 } });
    const [next] = stack().queue.take();
    expect(pushRetryMessageSchema.parse(next?.body).attempt).toBe(2);
    const delay2 = (next?.scheduledAt?.getTime() ?? 0) - Date.now();
    expect(delay2).toBeGreaterThan(delay1); // 2 s after 1 s

    const third = await stack().retry(next!, impatient());
    expect(third).toMatchObject({ status: 'done', summary: { parked: 1, retrying: 0 } });
    expect(stack().queue.take()).toEqual([]);
    const parked = (await errorsOf('lead')).find((e) => e.recordId === person.id && e.code === 'parked');
    expect(parked?.message).toMatch(/gave up after 3 attempts.*server_error/);
    expect(pushStateOf(await stack().person(person.id))).toMatchObject({ status: 'parked' });
    expect(row('lead', leadId)?.jobtitle).not.toBe('Eventually');

    // Dynamics is back; an operator retries the parked edit.
    stack().sim.control.clearFaults();
    const retried = await stack().retry({ messageId: 'manual', body: manualRetryMessage([person.id]) });
    expect(retried).toMatchObject({ status: 'done', summary: { pushed: 1 } });
    expect(row('lead', leadId)?.jobtitle).toBe('Eventually');
    expect(pushStateOf(await stack().person(person.id))).toBeUndefined();
  });

  it('bad documents become error records without stopping the batch', async () => {
    const [wrongType, huge, fine] = [leads[3], leads[4], contacts[0]] as PersonRecord[] as [
      PersonRecord,
      PersonRecord,
      PersonRecord,
    ];
    await stack().edit(wrongType.id, { firstName: 42 });
    await stack().edit(huge.id, { jobTitle: 'x'.repeat(100_000) });
    await stack().edit(fine.id, { jobTitle: 'Fine Edit' });
    const docs: unknown[] = [
      ...(await stack().people()),
      { entity: 'person', type: 'lead', firstName: 'no id' },
      { id: 'broken-1', entity: 'person', type: 'robot', dynamics: { etag: 1 } },
      'not even an object',
    ];
    const summary = await stack().useCase().pushDocuments(docs);
    expect(summary.invalid).toBe(5);
    expect(summary.pushed).toBe(1);
    expect(row('contact', String(fine.dynamics.contactId))?.jobtitle).toBe('Fine Edit');

    const leadErrors = await errorsOf('lead');
    expect(leadErrors.find((e) => e.recordId === wrongType.id)).toMatchObject({
      code: 'invalid_value',
      message: expect.stringMatching(/firstName: expected text, got number/),
    });
    expect(leadErrors.find((e) => e.recordId === huge.id)?.message).toMatch(
      /100000 characters, at most 4000/,
    );
    const personErrors = await errorsOf('person');
    expect(
      personErrors
        .filter((e) => e.code === 'invalid_document')
        .map((e) => e.recordId)
        .sort(),
    ).toEqual(expect.arrayContaining(['broken-1', null]));
    expect(pushStateOf(await stack().person(huge.id))).toMatchObject({
      status: 'error',
      code: 'invalid_value',
    });
  });

  it('a row deleted in Dynamics before the pull noticed: the edit is rejected and recorded, nothing is recreated', async () => {
    const person = contacts[1] as PersonRecord;
    const contactId = String(person.dynamics.contactId);
    stack().sim.control.deleteRow('contact', contactId);
    await stack().edit(person.id, { jobTitle: 'Too Late' });
    const summary = await stack().pushAll();
    expect(summary.rejected).toBe(1);
    expect(row('contact', contactId)).toBeUndefined();
    expect((await errorsOf('contact')).find((e) => e.recordId === person.id)?.code).toBe('not_found');
    // Once the pull flags the deletion the person is no longer pushed at all.
    await stack().pull('contact');
    stack().sim.control.resetCounters();
    expect((await stack().pushAll()).requests).toBe(0);
  });

  it('a marketing-side delete does not delete in Dynamics; one-way data and pull-only fields are never pushed', async () => {
    const gone = leads[5] as PersonRecord;
    const leadId = String(gone.dynamics.leadId);
    await stack().container('people').item(gone.id, gone.id).delete();
    const contact = contacts[2] as PersonRecord;
    await stack().edit(contact.id, { ownerId: '00000000-0000-4000-8000-000000000001', company: 'Edited Co' });
    const accounts = await stack().all('accounts');
    expect(accounts.length).toBeGreaterThan(0);
    const editedAccounts = accounts.map((a) => ({
      ...a,
      values: { ...(a as { values: object }).values, name: 'X' },
    }));

    stack().sim.control.resetCounters();
    const summary = await stack()
      .useCase()
      .pushDocuments([...(await stack().people()), ...editedAccounts]);
    expect(summary.requests).toBe(0);
    expect(summary.skipped).toBeGreaterThanOrEqual(accounts.length);
    expect(stack().sim.control.counters().total.requests).toBe(0);
    expect(row('lead', leadId)).toBeDefined();
  });
});
