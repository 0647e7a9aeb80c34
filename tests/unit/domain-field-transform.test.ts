import { parseSyncConfig } from '../../shared/config/sync-config.schema';
import { normalizeMarketing, toDynamicsChoice, toMarketing } from '../../shared/domain/field.transform';

const email = { marketing: 'email', transform: ['trim', 'lowercase'] as const };
const source = {
  marketing: 'leadSource',
  transform: [{ choiceText: { '1': 'Advert', '8': 'Web' } }, 'trim'] as const,
};
const plain = { marketing: 'firstName' };

describe('field transforms', () => {
  it.each([
    ['trim and lower-case text', email, '  Foo@X.com ', 'foo@x.com'],
    ['null stays null', email, null, null],
    ['a number is left alone by text transforms', email, 5, 5],
    ['no transform', plain, '  Ada ', '  Ada '],
    ['a choice to its text', source, { value: 8, label: 'Web site' }, 'Web'],
    ['a bare choice value to its text', source, 1, 'Advert'],
    ['a cleared choice', source, null, null],
  ])('toMarketing: %s', (_name, rule, value, expected) => {
    expect(toMarketing(rule, value)).toEqual({ ok: true, value: expected });
  });

  it('toMarketing fails on a choice value the table does not have, naming the field and the value', () => {
    expect(toMarketing(source, { value: 9, label: 'Other' })).toEqual({
      ok: false,
      reason: expect.stringMatching(/^field "leadSource": Dynamics value 9 has no entry/),
    });
  });

  it.each([
    [email, ' A@B.c', 'a@b.c'],
    [source, ' Web ', 'Web'],
    [plain, ' x ', ' x '],
  ])('normalizeMarketing %#', (rule, value, expected) => {
    expect(normalizeMarketing(rule, value)).toBe(expected);
  });

  it.each([
    [source, 'Web', { ok: true, value: 8 }],
    [source, ' Web  ', { ok: true, value: 8 }],
    [source, null, { ok: true, value: null }],
    [email, 'a@b.c', { ok: true, value: 'a@b.c' }],
    [source, 'Fax', { ok: false, reason: expect.stringContaining('leadSource') }],
  ])('toDynamicsChoice %#', (rule, value, expected) => {
    expect(toDynamicsChoice(rule, value)).toEqual(expected);
  });

  it.each([
    [
      'an unknown transform',
      { fields: { lead: [{ marketing: 'email', dynamics: 'emailaddress1', transform: ['upper'] }] } },
      /fields\.lead\.0\.transform\.0 \(field "email"\)/,
    ],
    [
      'choiceText after a text transform',
      {
        fields: {
          lead: [
            {
              marketing: 'src',
              dynamics: 'leadsourcecode',
              transform: ['trim', { choiceText: { '1': 'A' } }],
            },
          ],
        },
      },
      /field "src": choiceText must come first/,
    ],
    [
      'two values with one text on a pushed field',
      {
        fields: {
          lead: [
            {
              marketing: 'src',
              dynamics: 'leadsourcecode',
              transform: [{ choiceText: { '1': 'A', '2': 'A' } }],
            },
          ],
        },
      },
      /field "src": choiceText maps two values to "A"/,
    ],
    [
      'a choice table keyed by text',
      {
        fields: {
          lead: [{ marketing: 'src', dynamics: 'leadsourcecode', transform: [{ choiceText: { web: 'A' } }] }],
        },
      },
      /\(field "src"\): must be "trim", "lowercase" or .*whole numbers/,
    ],
    [
      'a constant on a column a field feeds',
      {
        fields: { lead: [{ marketing: 'src', dynamics: 'leadsourcecode' }] },
        constants: { lead: [{ dynamics: 'leadsourcecode', value: 8 }] },
      },
      /constants\.lead\.0\.dynamics: column "leadsourcecode" is also fed by field "src"/,
    ],
  ])('SYNC_CONFIG refuses %s, naming the field', (_name, raw, message) => {
    expect(() => parseSyncConfig(raw)).toThrow(message);
  });

  it('a two-way choice table may name a text once only, a pull-only one twice', () => {
    const rule = {
      marketing: 'src',
      dynamics: 'leadsourcecode',
      direction: 'pull',
      transform: [{ choiceText: { '1': 'A', '2': 'A' } }],
    };
    expect(parseSyncConfig({ fields: { lead: [rule] } }).fields.lead?.[0]?.transform).toHaveLength(1);
  });
});
