import { parseSyncConfig } from '../../shared/config/sync-config.schema';
import { unknownOptions } from '../../shared/domain/choice.rules';
import { pendingEdits, planPush, toColumnValue } from '../../shared/domain/push.planner';
import type { PersonFieldRule } from '../../shared/domain/entity.profile';
import type { FieldValue, PersonRecord } from '../../shared/domain/record.model';
import { mapRow } from '../../shared/domain/row.mapper';
import { CONTACT, contactRow, profileOf, sourceMeta } from './domain-fixtures';

const FV = '@OData.Community.Display.V1.FormattedValue';
const interests: PersonFieldRule = {
  marketing: 'interests',
  dynamics: 'new_interests',
  direction: 'both',
  conflict: 'dynamics',
};
const config = parseSyncConfig({
  fields: { contact: [{ marketing: 'interests', dynamics: 'new_interests', direction: 'both' }] },
});
const contact = profileOf('contact', config);

describe('multi-select choices', () => {
  it.each([
    [
      'two values with their labels',
      '100000000,100000002',
      'Email; Webinars',
      { value: [100000000, 100000002], label: 'Email; Webinars' },
    ],
    ['one value', '100000001', 'Events', { value: [100000001], label: 'Events' }],
    ['no annotation: plain text, kept as Dynamics sent it', '100000001', undefined, '100000001'],
    ['cleared', null, undefined, null],
  ])('are read from the value and its FormattedValue: %s', (_case, raw, label, expected) => {
    const row = contactRow({
      new_interests: raw,
      ...(label !== undefined ? { [`new_interests${FV}`]: label } : {}),
    });
    const mapped = mapRow(contact, row);
    if (!mapped.ok) throw new Error(mapped.error.message);
    expect(mapped.row.values.new_interests).toEqual(expected);
  });

  it.each<[string, FieldValue, unknown]>([
    [
      'values in any order, once each, go as one sorted text',
      { value: [100000002, 100000000, 100000002], label: null },
      '100000000,100000002',
    ],
    ['no value clears the column', { value: [], label: 'stale' }, null],
    ['null clears the column', null, null],
    ['a single choice goes as its integer', { value: 3, label: 'x' }, 3],
  ])('are written as the Web API takes them: %s', (_case, value, expected) => {
    expect(toColumnValue(interests, value, 'any')).toEqual({ ok: true, value: expected });
    expect(toColumnValue(interests, value, 'choice')).toEqual({ ok: true, value: expected });
  });

  it('refuses values that are not option numbers', () => {
    const converted = toColumnValue(interests, { value: [1.5], label: null } as unknown as FieldValue, 'any');
    expect(converted).toEqual({ ok: false, message: 'interests: expected a choice value, got a choice' });
  });

  it.each<[string, number[], number[]]>([
    ['every value known', [100000000, 100000002], []],
    ['one unknown, named once', [100000099, 100000000, 100000099], [100000099]],
    ['several unknown, in value order', [7, 100000001, 3], [3, 7]],
  ])('finds the values the column has no option for: %s', (_case, values, expected) => {
    const known = new Map([
      [100000000, 'Email'],
      [100000001, 'Events'],
      [100000002, 'Webinars'],
    ]);
    expect(unknownOptions(values, known)).toEqual(expected);
  });

  it('a held field is neither pending nor sent, and the other edits still go', () => {
    const person = {
      id: CONTACT,
      entity: 'person',
      type: 'contact',
      jobTitle: 'CTO',
      interests: { value: [100000099], label: null },
      dynamics: {
        contactId: CONTACT,
        etag: 'W/"1"',
        versionnumber: 1,
        modifiedon: null,
        contact: { ...sourceMeta(CONTACT, 'contact'), values: {} },
      },
      sync: { updatedAt: 'now', agreed: { jobTitle: 'Engineer', interests: null } },
    } as PersonRecord;
    expect(Object.keys(pendingEdits(person, contact.personFields))).toEqual(['jobTitle', 'interests']);
    const plan = planPush(person, contact.personFields, { held: new Set(['interests']) });
    expect(plan).toMatchObject({ kind: 'push', body: { jobtitle: 'CTO' }, changes: { jobTitle: 'CTO' } });
  });
});
