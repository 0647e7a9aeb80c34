import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DOCUMENT_SCHEMA_VERSION,
  schemaVersionOf,
  upgradeDocument,
  versionToWrite,
} from '../../shared/domain/document.schema';
import { genericRecordSchema, personRecordSchema } from '../../shared/domain/record.model';
import {
  MEMBERSHIPS_KEY,
  PERSON_ROLES_KEY,
  ROLE_ROWS_KEY,
  ROLES_KEY,
} from '../../shared/domain/relations.rules';

const V1 = join(__dirname, '..', 'fixtures', 'documents', 'v1');
/** Documents as today's code stored them (captured by tests/fixtures/documents/capture-documents.ts). */
const records = readdirSync(V1)
  .filter((file) => !file.startsWith('checkpoint'))
  .map(
    (file) => [file, JSON.parse(readFileSync(join(V1, file), 'utf8')) as Record<string, unknown>] as const,
  );

/** Every leaf of `before` is in `after` with the same value: nothing lost, nothing changed. */
function expectKept(before: unknown, after: unknown, path = '$'): void {
  if (before === null || typeof before !== 'object') {
    expect({ path, value: after }).toEqual({ path, value: before });
    return;
  }
  expect(after).not.toBeNull();
  for (const [key, value] of Object.entries(before)) {
    expectKept(value, (after as Record<string, unknown>)[key], `${path}.${key}`);
  }
}

describe('document schema versions', () => {
  it('has version 1 fixtures of every kind of record', () => {
    expect(records.map(([file]) => file).sort()).toEqual([
      'account.json',
      'new_membership.json',
      'opportunity.json',
      'person-contact.json',
      'person-lead.json',
      'person-qualified.json',
      'systemuser.json',
      'team.json',
    ]);
    for (const [, doc] of records) expect(schemaVersionOf(doc)).toBe(1);
  });

  it.each(records)('%s: upgraded, keeps every field it had, and reads as a record', (file, doc) => {
    const upgraded = upgradeDocument(doc);
    expect(upgraded.schemaVersion).toBe(DOCUMENT_SCHEMA_VERSION);
    expectKept(doc, upgraded);
    const schema = file.startsWith('person') ? personRecordSchema : genericRecordSchema;
    const parsed = schema.safeParse(upgraded);
    expect(parsed.error?.issues ?? []).toEqual([]);
    expectKept(doc, parsed.data);
    // Idempotent: upgrading twice is upgrading once.
    expect(upgradeDocument(upgraded)).toEqual(upgraded);
  });

  it.each([
    ['person-qualified.json', 'systemuser', 'ownerId of the primary (contact) row'],
    ['person-lead.json', 'as the row says', "the lead row's owner"],
    ['account.json', 'as the row says', "the row's owner lookup"],
    ['opportunity.json', 'as the row says', "the row's owner lookup"],
  ])('%s: the owner becomes an object (type %s) from %s', (file, type) => {
    const doc = records.find(([name]) => name === file)?.[1] as Record<string, unknown>;
    const upgraded = upgradeDocument(doc) as Record<string, unknown>;
    const owner = upgraded.owner as { id: string; type: string; name: unknown; email: unknown };
    const values = (
      file.startsWith('person')
        ? ((doc.dynamics as Record<string, Record<string, unknown>>)[doc.type as string]?.values ?? {})
        : doc.values
    ) as Record<string, { id: string; table: string }>;
    expect(owner).toEqual({
      id: values.ownerid?.id,
      type: type === 'as the row says' ? values.ownerid?.table : type,
      name: null,
      email: null,
    });
  });

  it.each([
    ['no owner anywhere', { id: 'a', entity: 'systemuser', values: {} }, undefined],
    [
      'a person with only ownerId',
      { id: 'p', entity: 'person', type: 'lead', ownerId: 'u1', dynamics: {} },
      'u1',
    ],
    [
      'an owner already set is kept',
      { id: 'p', entity: 'person', owner: { id: 'x', type: 'team', name: 'T', email: null } },
      'x',
    ],
  ])('%s', (_name, doc, ownerId) => {
    const upgraded = upgradeDocument(doc as Record<string, unknown>) as { owner?: { id: string } };
    expect(upgraded.owner?.id).toBe(ownerId);
  });

  it('leaves documents of a newer version, and anything that is no document, as they are', () => {
    const newer = { id: 'x', entity: 'person', schemaVersion: DOCUMENT_SCHEMA_VERSION + 1, future: [1] };
    expect(upgradeDocument(newer)).toBe(newer);
    expect(versionToWrite(newer)).toBe(DOCUMENT_SCHEMA_VERSION + 1);
    expect(versionToWrite({})).toBe(DOCUMENT_SCHEMA_VERSION);
    expect(upgradeDocument([] as unknown as object)).toEqual([]);
    expect(schemaVersionOf({ schemaVersion: 'two' })).toBe(1);
  });

  it('keeps the fields the relations work adds to people and opportunities (no new version needed)', () => {
    const person = records.find(([name]) => name === 'person-qualified.json')?.[1] as Record<string, unknown>;
    const opportunity = records.find(([name]) => name === 'opportunity.json')?.[1] as Record<string, unknown>;
    const withRelations = {
      ...person,
      [MEMBERSHIPS_KEY]: [{ listId: 'l1', name: 'Newsletter', campaigns: [] }],
      [PERSON_ROLES_KEY]: [{ opportunityId: 'o1', name: 'Deal', role: 'Stakeholder' }],
    };
    const opportunityWithRoles = {
      ...opportunity,
      [ROLES_KEY]: [{ personId: 'p1', role: 'Customer' }],
      [ROLE_ROWS_KEY]: ['c1'],
    };
    expectKept(withRelations, personRecordSchema.parse(upgradeDocument(withRelations)));
    expectKept(opportunityWithRoles, genericRecordSchema.parse(upgradeDocument(opportunityWithRoles)));
  });

  it("accepts fields other versions add (a person's lists and roles) and keeps them", () => {
    const doc = records.find(([name]) => name === 'person-contact.json')?.[1] as Record<string, unknown>;
    const withMore = {
      ...doc,
      lists: [{ id: 'l1', name: 'Newsletter', static: true }],
      roles: [{ opportunityId: 'o1', role: 'Stakeholder' }],
      interests: { value: [1, 2], label: 'Email; Events' },
    };
    const parsed = personRecordSchema.parse(upgradeDocument(withMore));
    expect(parsed).toMatchObject({
      lists: withMore.lists,
      roles: withMore.roles,
      interests: withMore.interests,
    });
  });
});
