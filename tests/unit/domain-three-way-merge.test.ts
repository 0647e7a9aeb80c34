import { parseSyncConfig } from '../../shared/config/sync-config.schema';
import { personFieldRules, type PersonFieldRule } from '../../shared/domain/entity.profile';
import type { FieldValue } from '../../shared/domain/record.model';
import { threeWayMerge } from '../../shared/domain/three-way.merge';

const rules = (table: 'lead' | 'contact', fields = {}): PersonFieldRule[] =>
  personFieldRules(table, parseSyncConfig({ fields }).fields);

/** One field, `jobTitle`, under the given direction and conflict rule. */
const rule = (
  direction: PersonFieldRule['direction'],
  conflict: PersonFieldRule['conflict'],
): PersonFieldRule[] => [{ marketing: 'jobTitle', dynamics: 'jobtitle', direction, conflict }];

const ABSENT = Symbol('absent');
type Cell = FieldValue | typeof ABSENT;

/**
 * The rule, one row per case: the last agreed value (base), the marketing value and the Dynamics
 * value; the field's direction and conflict rule; then the value the person keeps, whether it is a
 * conflict (both sides changed since the base) and whether it is pending a push (it differs from
 * what Dynamics holds).
 */
// prettier-ignore
const cases: [string, Cell, Cell, FieldValue, PersonFieldRule['direction'], PersonFieldRule['conflict'], FieldValue, boolean, boolean][] = [
  // case                                      base        marketing    Dynamics  direction conflict     value        conflict pending
  ['nothing changed',                          'Engineer', 'Engineer',  'Engineer', 'both', 'dynamics',  'Engineer',  false,   false],
  ['edited in Dynamics only',                  'Engineer', 'Engineer',  'CTO',      'both', 'marketing', 'CTO',       false,   false],
  ['edited on the marketing side only',        'Engineer', 'Director',  'Engineer', 'both', 'dynamics',  'Director',  false,   true],
  ['both edited, marketing wins',              'Engineer', 'Director',  'CTO',      'both', 'marketing', 'Director',  true,    true],
  ['both edited, Dynamics wins',               'Engineer', 'Director',  'CTO',      'both', 'dynamics',  'CTO',       true,    false],
  ['both edited to the same value (no echo)',  'Engineer', 'CTO',       'CTO',      'both', 'marketing', 'CTO',       false,   false],
  ['cleared on the marketing side',            'Engineer', null,        'Engineer', 'both', 'dynamics',  null,        false,   true],
  ['cleared in Dynamics',                      'Engineer', 'Engineer',  null,       'both', 'marketing', null,        false,   false],
  ['no agreed value, sides differ: the rule',  ABSENT,     'Director',  'CTO',      'both', 'marketing', 'Director',  true,    true],
  ['no agreed value, sides differ: Dynamics',  ABSENT,     'Director',  'CTO',      'both', 'dynamics',  'CTO',       true,    false],
  ['no agreed value, sides agree',             ABSENT,     'CTO',       'CTO',      'both', 'dynamics',  'CTO',       false,   false],
  ['field absent on the marketing side',       'Engineer', ABSENT,      'CTO',      'both', 'marketing', 'CTO',       false,   false],
  ['pull-only: Dynamics always wins',          'Engineer', 'Director',  'CTO',      'pull', 'marketing', 'CTO',       false,   false],
  ['pull-only: a marketing edit is overwritten', 'Engineer', 'Director', 'Engineer', 'pull', 'marketing', 'Engineer', false,   false],
  ['push-only: marketing always wins',         'Engineer', 'Director',  'CTO',      'push', 'dynamics',  'Director',  false,   true],
  ['push-only: a Dynamics edit is not taken',  'Engineer', 'Engineer',  'CTO',      'push', 'dynamics',  'Engineer',  false,   true],
];

describe('three-way merge', () => {
  it.each(cases)(
    '%s',
    (_name, base, marketing, dynamics, direction, conflict, value, isConflict, pending) => {
      const out = threeWayMerge(
        rule(direction, conflict),
        { jobTitle: dynamics },
        base === ABSENT ? {} : { jobTitle: base },
        marketing === ABSENT ? {} : { jobTitle: marketing },
      );
      expect(out.values.jobTitle).toEqual(value);
      expect(out.conflicts.includes('jobTitle')).toBe(isConflict);
      expect(out.pendingPush.includes('jobTitle')).toBe(pending);
      // What Dynamics holds now is what is agreed, whoever won.
      expect(out.agreed.jobTitle).toEqual(dynamics);
    },
  );

  it('uses the entity defaults: marketing wins for leads, Dynamics for contacts, and the owner is pull-only', () => {
    const agreed = { jobTitle: 'Engineer', ownerId: 'u1' };
    const incoming = { jobTitle: 'CTO', ownerId: 'u2' };
    const current = { jobTitle: 'Director', ownerId: 'u3' };
    const lead = threeWayMerge(rules('lead'), incoming, agreed, current);
    expect(lead.values).toMatchObject({ jobTitle: 'Director', ownerId: 'u2' });
    const contact = threeWayMerge(rules('contact'), incoming, agreed, current);
    expect(contact.values).toMatchObject({ jobTitle: 'CTO', ownerId: 'u2' });
    expect([...lead.pendingPush, ...contact.pendingPush]).not.toContain('ownerId');
  });

  it('honours a per-field conflict override from SyncConfig', () => {
    const contactRules = rules('contact', {
      contact: [{ marketing: 'jobTitle', dynamics: 'jobtitle', conflict: 'marketing' }],
    });
    const agreed = { jobTitle: 'Engineer', lastName: 'Lovelace' };
    const out = threeWayMerge(contactRules, { jobTitle: 'CTO', lastName: 'King' }, agreed, {
      jobTitle: 'Director',
      lastName: 'Byron',
    });
    expect(out.values.jobTitle).toBe('Director');
    expect(out.values.lastName).toBe('King');
  });

  it('takes every incoming value for a brand-new person, null where Dynamics has none', () => {
    const incoming = { firstName: 'Ada', jobTitle: 'Engineer' };
    const out = threeWayMerge(rules('lead'), incoming, undefined, undefined);
    expect(out.values).toMatchObject(incoming);
    expect(out.values.email).toBeNull();
    expect(out.pendingPush).toEqual([]);
  });
});
