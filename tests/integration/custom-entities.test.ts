import { parseSyncConfig } from '../../shared/config/sync-config.schema';
import type { GenericRecord, PersonRecord } from '../../shared/domain/record.model';
import { resolveLinkedPerson } from '../../shared/sync/custom-link.query';
import { usePullStack } from './pull-stack.fixture';

type Row = Record<string, unknown>;

/** A custom table `new_<name>` with a name column and one lookup column linking it to `target`. */
const customTable = (name: string, lookup: string, target: string) => ({
  logicalName: `new_${name}`,
  entitySet: `new_${name}s`,
  key: `new_${name}id`,
  columns: ['new_name'],
  link: { column: `_${lookup}_value`, target },
});
const membership = customTable('membership', 'new_contactid', 'contact');
/** Linked to a membership, which is linked to a contact: two levels. */
const benefit = customTable('benefit', 'new_membershipid', 'new_membership');

describe('custom entities', () => {
  const stack = usePullStack({
    records: 30,
    seed: 83,
    customTables: [
      {
        logicalName: 'new_membership',
        entitySetName: 'new_memberships',
        primaryName: 'new_name',
        columns: [{ name: 'new_contactid', type: 'lookup', targets: ['contact'] }],
        count: 6,
      },
      {
        logicalName: 'new_benefit',
        entitySetName: 'new_benefits',
        primaryName: 'new_name',
        columns: [{ name: 'new_membershipid', type: 'lookup', targets: ['new_membership'] }],
        count: 8,
      },
    ],
  });
  const config = parseSyncConfig({ customEntities: [membership, benefit] });
  const resolve = (entity: string, id: string) =>
    resolveLinkedPerson(entity, id, {
      config,
      custom: stack().records('custom'),
      people: stack().records('people'),
    });

  it('enabling one starts its own initial load and leaves the others where they were', async () => {
    for (const entity of ['lead', 'contact', 'account'])
      expect((await stack().pull(entity)).outcome).toBe('done');
    const before = await stack().checkpoints.get('contact');

    for (const entity of ['new_benefit', 'new_membership']) {
      const result = await stack().pull(entity, { config });
      expect(result).toMatchObject({ outcome: 'done', phase: 'delta' });
      expect(result.stats.written).toBe(stack().sim.control.count(entity));
    }
    // The others carry on from their delta links: no new load, nothing written.
    const contact = await stack().pull('contact', { config });
    expect(contact.stats.written).toBe(0);
    const after = await stack().checkpoints.get('contact');
    expect(after?.phase).toBe('delta');
    expect(after?.select).toBe(before?.select);
  });

  it('a custom row linked to a custom row linked to a contact resolves to the person', async () => {
    const benefits = (await stack().all('custom')).filter(
      (d) => d.entity === 'new_benefit',
    ) as GenericRecord[];
    const people = (await stack().all('people')) as PersonRecord[];
    let resolved = 0;
    for (const doc of benefits) {
      const row = stack().sim.control.getRow('new_benefit', doc.id) as Row;
      const parent = stack().sim.control.getRow('new_membership', String(row._new_membershipid_value)) as Row;
      const contactId = String(parent._new_contactid_value);
      const person = people.find((p) => p.dynamics.contactId === contactId);
      const linked = await resolve('new_benefit', doc.id);
      expect(linked.path).toEqual([
        { table: 'new_benefit', id: doc.id },
        { table: 'new_membership', id: String(parent.new_membershipid) },
        { table: 'contact', id: contactId },
      ]);
      expect(linked.personId).toBe(person?.id ?? null);
      if (person !== undefined) resolved += 1;
    }
    expect(resolved).toBeGreaterThan(0);
  });

  it('follows a relinked parent at once, and says why when there is no person', async () => {
    const benefitDoc = (await stack().all('custom')).find((d) => d.entity === 'new_benefit') as GenericRecord;
    const parentId = (benefitDoc.values.new_membershipid as { id: string }).id;
    const before = await resolve('new_benefit', benefitDoc.id);
    const people = (await stack().all('people')) as PersonRecord[];
    const target = people.find((p) => p.dynamics.contactId !== undefined && p.id !== before.personId);
    if (target === undefined) throw new Error('the seed has too few contacts');
    stack().sim.control.updateRow('new_membership', parentId, {
      _new_contactid_value: target.dynamics.contactId,
    });
    await stack().pull('new_membership', { config });
    // Only the parent was pulled again; the child resolves through it as it is now.
    expect((await resolve('new_benefit', benefitDoc.id)).personId).toBe(target.id);

    stack().sim.control.updateRow('new_membership', parentId, { _new_contactid_value: null });
    await stack().pull('new_membership', { config });
    expect(await resolve('new_benefit', benefitDoc.id)).toMatchObject({ personId: null, reason: 'no_link' });
    expect(await resolve('new_benefit', '00000000-0000-4000-8000-000000000000')).toMatchObject({
      personId: null,
      reason: 'not_found',
    });
  });

  it.each([
    [
      'a target that is not declared',
      [{ ...benefit }],
      /links to "new_membership", which is no lead, contact, account or custom entity/,
    ],
    [
      'links that go round in a circle',
      [{ ...membership, link: { column: '_new_benefitid_value', target: 'new_benefit' } }, { ...benefit }],
      /its links go round in a circle/,
    ],
  ])('SYNC_CONFIG refuses %s', (_name, customEntities, message) => {
    expect(() => parseSyncConfig({ customEntities })).toThrow(message);
  });
});
