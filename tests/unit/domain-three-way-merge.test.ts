import { parseSyncConfig } from '../../shared/config/sync-config.schema';
import { personFieldRules, type PersonFieldRule } from '../../shared/domain/entity.profile';
import { threeWayMerge } from '../../shared/domain/three-way.merge';

const rules = (table: 'lead' | 'contact', fields = {}): PersonFieldRule[] =>
  personFieldRules(table, parseSyncConfig({ fields }).fields);

const agreed = { firstName: 'Ada', lastName: 'Lovelace', jobTitle: 'Engineer', ownerId: 'u1' };

describe('three-way merge', () => {
  it('takes a value edited only in Dynamics', () => {
    const out = threeWayMerge(rules('lead'), { ...agreed, jobTitle: 'CTO' }, agreed, agreed);
    expect(out.values.jobTitle).toBe('CTO');
    expect(out.pendingPush).toEqual([]);
  });

  it('keeps a value edited only on the marketing side, pending push', () => {
    const out = threeWayMerge(rules('contact'), agreed, agreed, { ...agreed, jobTitle: 'Director' });
    expect(out.values.jobTitle).toBe('Director');
    expect(out.pendingPush).toEqual(['jobTitle']);
    expect(out.agreed.jobTitle).toBe('Engineer');
  });

  it('settles a both-sides edit: marketing wins for leads, Dynamics for contacts', () => {
    const incoming = { ...agreed, jobTitle: 'CTO' };
    const current = { ...agreed, jobTitle: 'Director' };
    const lead = threeWayMerge(rules('lead'), incoming, agreed, current);
    expect(lead.values.jobTitle).toBe('Director');
    expect(lead.conflicts).toEqual(['jobTitle']);
    expect(lead.pendingPush).toEqual(['jobTitle']);
    const contact = threeWayMerge(rules('contact'), incoming, agreed, current);
    expect(contact.values.jobTitle).toBe('CTO');
    expect(contact.conflicts).toEqual(['jobTitle']);
    expect(contact.pendingPush).toEqual([]);
    // agreed is what Dynamics holds now, whoever won.
    expect(lead.agreed.jobTitle).toBe('CTO');
    expect(contact.agreed.jobTitle).toBe('CTO');
  });

  it('honours a per-field conflict override from SyncConfig', () => {
    const contactRules = rules('contact', {
      contact: [{ marketing: 'jobTitle', dynamics: 'jobtitle', conflict: 'marketing' }],
    });
    const out = threeWayMerge(contactRules, { ...agreed, jobTitle: 'CTO', lastName: 'King' }, agreed, {
      ...agreed,
      jobTitle: 'Director',
      lastName: 'Byron',
    });
    expect(out.values.jobTitle).toBe('Director');
    expect(out.values.lastName).toBe('King');
  });

  it('does not echo: a value equal on both sides is no conflict', () => {
    const out = threeWayMerge(rules('lead'), { ...agreed, jobTitle: 'CTO' }, agreed, {
      ...agreed,
      jobTitle: 'CTO',
    });
    expect(out.conflicts).toEqual([]);
    expect(out.pendingPush).toEqual([]);
  });

  it('lets Dynamics own pull-only fields such as the owner', () => {
    const out = threeWayMerge(rules('lead'), { ...agreed, ownerId: 'u2' }, agreed, {
      ...agreed,
      ownerId: 'u3',
    });
    expect(out.values.ownerId).toBe('u2');
    expect(out.pendingPush).not.toContain('ownerId');
  });

  it('takes every incoming value for a brand-new person', () => {
    const out = threeWayMerge(rules('lead'), agreed, undefined, undefined);
    expect(out.values).toMatchObject(agreed);
    expect(out.values.email).toBeNull();
  });
});
