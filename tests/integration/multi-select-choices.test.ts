import { DataversePersonRowGateway } from '../../shared/dataverse/person-row.gateway';
import { useStarted } from './lifecycle.helpers';
import { startRelationsStack, type Doc, type SimRow } from './relations.fixture';

const LABELS: Record<number, string> = { 100000000: 'Email', 100000001: 'Events', 100000002: 'Webinars' };

describe('multi-select choices: values and labels kept, pushed back, unknown options held and reported', () => {
  const stack = useStarted(() => startRelationsStack(47));

  const contactPerson = async (pick: (row: SimRow) => boolean): Promise<{ person: Doc; row: SimRow }> => {
    for (const person of await stack().all('people')) {
      const id = (person.dynamics as { contactId?: string }).contactId;
      if (person.type !== 'contact' || id === undefined) continue;
      const row = stack().stack.dataverse.control.getRow('contact', id) as SimRow;
      if (pick(row)) return { person, row };
    }
    throw new Error('no such contact');
  };

  it('keeps the values and their labels from the FormattedValue', async () => {
    await stack().pull('lead', 'contact');
    let seen = 0;
    for (const person of await stack().all('people')) {
      const table = person.type as 'lead' | 'contact';
      const id = (person.dynamics as Record<string, string>)[
        table === 'lead' ? 'leadId' : 'contactId'
      ] as string;
      const raw = (stack().stack.dataverse.control.getRow(table, id) as SimRow).new_interests;
      if (typeof raw !== 'string') {
        expect(person.interests).toBeNull();
        continue;
      }
      seen += 1;
      const values = raw.split(',').map(Number);
      expect(person.interests).toEqual({ value: values, label: values.map((v) => LABELS[v]).join('; ') });
      expect((person.sync as { agreed: Record<string, unknown> }).agreed.interests).toEqual(person.interests);
    }
    expect(seen).toBeGreaterThan(5);
  });

  it('pushes a marketing edit back as Dynamics takes it, and the echo settles without a second write', async () => {
    const { person } = await contactPerson((row) => row.new_interests === null);
    await stack().edit(person.id, { interests: { value: [100000002, 100000000], label: null } });
    const summary = await stack().push([person.id]);
    expect(summary.pushed).toBe(1);
    const id = (person.dynamics as { contactId: string }).contactId;
    expect((stack().stack.dataverse.control.getRow('contact', id) as SimRow).new_interests).toBe(
      '100000000,100000002',
    );
    const doc = await stack().doc('people', person.id);
    // Dynamics' own order and labels are taken, so the value is not pending any more.
    expect(doc.interests).toEqual({ value: [100000000, 100000002], label: 'Email; Webinars' });
    const again = await stack().push([person.id]);
    expect(again.pushed).toBe(0);
    expect(again.inSync).toBe(1);

    // Cleared on the marketing side: cleared in Dynamics.
    await stack().edit(person.id, { interests: { value: [], label: null } });
    await stack().push([person.id]);
    expect((stack().stack.dataverse.control.getRow('contact', id) as SimRow).new_interests).toBeNull();
  });

  it('holds a value Dynamics has no option for, reports it, and still sends the other fields', async () => {
    const { person, row } = await contactPerson((r) => typeof r.new_interests === 'string');
    const id = String(row.contactid);
    const before = row.new_interests;
    await stack().edit(person.id, {
      jobTitle: 'Head of Growth',
      interests: { value: [100000000, 100000099], label: null },
    });
    const summary = await stack().push([person.id]);
    expect(summary.pushed).toBe(1);
    expect(summary.rejected).toBe(0);
    const stored = stack().stack.dataverse.control.getRow('contact', id) as SimRow;
    expect(stored.jobtitle).toBe('Head of Growth');
    expect(stored.new_interests).toBe(before);
    const doc = await stack().doc('people', person.id);
    // Held: the marketing value stays as written, and no push failure is recorded on the person.
    expect(doc.interests).toEqual({ value: [100000000, 100000099], label: null });
    expect(doc.pushState).toBeUndefined();
    const errors = await stack().services.sync.searchErrors({
      entity: 'contact',
      status: 'open',
      code: 'unknown_option',
      limit: 10,
    });
    const error = errors.errors.find((e) => e.recordId === person.id);
    expect(error?.message).toMatch(/contact column new_interests .*option value 100000099 has no label/);
    expect(error?.message).toMatch(/100000000 Email, 100000001 Events, 100000002 Webinars/);

    // Once Dynamics has the option (added by an admin), the held value goes through.
    stack().stack.dataverse.control.addOption('contact', 'new_interests', {
      value: 100000099,
      label: 'Podcasts',
    });
    // The options are cached for a few minutes: a new gateway (a new process, or the cache's expiry) sees it.
    const fresh = new DataversePersonRowGateway(stack().services.dataverse().client);
    expect((await fresh.optionsOf('contact', 'new_interests'))?.get(100000099)).toBe('Podcasts');
  });
});
