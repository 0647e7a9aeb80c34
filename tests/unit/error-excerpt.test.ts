import { z } from 'zod';
import { errorExcerpt, failingPaths, textExcerpt } from '../../shared/errors/error.excerpt';
import { parsePushDocument } from '../../shared/domain/push.planner';

const person = {
  id: 'p1',
  entity: 'person',
  type: 'lead',
  firstName: 'Ada',
  email: 'ada@example.com',
  phone: '+44 20 7946 0001',
  jobTitle: [7],
  dynamics: { leadId: 'l1', etag: 'W/"1"', versionnumber: 'x', modifiedon: null },
};

describe('errorExcerpt: the key and the failing fields, nothing else', () => {
  it.each([
    [
      'keeps the key and a failing top-level field',
      person,
      ['id'],
      [['jobTitle']],
      '{"id":"p1","jobTitle":"[7]"}',
    ],
    [
      'names a nested field by its path',
      person,
      ['id'],
      [['dynamics', 'versionnumber']],
      '{"id":"p1","dynamics.versionnumber":"x"}',
    ],
    ['says a missing field is missing', person, ['id'], [['sync']], '{"id":"p1","sync":"(missing)"}'],
    [
      'hides a value under a secret-like name',
      { entity: 'x', clientSecret: 'hunter2', nested: { password: 'p' } },
      [],
      [['clientSecret'], ['nested', 'password']],
      '{"clientSecret":"[redacted]","nested.password":"[redacted]"}',
    ],
    [
      'redacts a credential by pattern and cuts the value',
      { note: `Authorization: Bearer abc.def ${'x'.repeat(80)}` },
      [],
      [['note']],
      `{"note":"Authorization: Bearer [redacted] ${'x'.repeat(27)}..."}`,
    ],
    [
      'summarises an object value, redacted by key',
      { jobTitle: { pasted: 'a', token: 't0k' } },
      [],
      [['jobTitle']],
      '{"jobTitle":"{\\"pasted\\":\\"a\\",\\"token\\":\\"[redacted]\\"}"}',
    ],
    [
      'describes a value that is not an object without its content',
      'ada@example.com',
      [],
      [],
      '(text of 15 characters)',
    ],
    ['describes an array by its length', [person], [], [], '(an array of 1 items)'],
  ])('%s', (_what, source, keys, paths, expected) => {
    expect(errorExcerpt(source, keys, paths)).toBe(expected);
  });

  it('keeps at most 500 characters', () => {
    const wide = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`field${i}`, 'v'.repeat(60)]));
    const paths = Object.keys(wide).map((key) => [key]);
    expect(errorExcerpt(wide, [], paths).length).toBeLessThanOrEqual(500);
  });
});

describe('failingPaths', () => {
  it('turns unrecognized keys into fields of their own and drops the root', () => {
    const parsed = z
      .strictObject({ kind: z.literal('pull') })
      .safeParse({ kind: 'x', clientSecret: 's', password: 'p' });
    expect(parsed.success).toBe(false);
    expect(failingPaths(parsed.error?.issues ?? [])).toEqual([['kind'], ['clientSecret'], ['password']]);
  });
});

describe('textExcerpt', () => {
  it('redacts and cuts text that is not JSON', () => {
    expect(textExcerpt('{"clientSecret":"hunter2", broken')).toBe('{"clientSecret":"[redacted]", broken');
    expect(textExcerpt('y'.repeat(300))).toHaveLength(200);
  });
});

describe('a push error of an invalid person document', () => {
  it('keeps the id and the failing fields, not the name, email or phone', () => {
    const parsed = parsePushDocument(person);
    expect(parsed.kind).toBe('invalid');
    const excerpt = parsed.kind === 'invalid' ? parsed.excerpt : '';
    expect(excerpt).toContain('"id":"p1"');
    expect(excerpt).toContain('"jobTitle":"[7]"');
    for (const value of ['Ada', 'ada@example.com', '+44']) expect(excerpt).not.toContain(value);
  });
});
