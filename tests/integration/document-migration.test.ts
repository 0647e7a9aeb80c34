import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTAINERS, type ContainerKey } from '../../shared/config/entity.catalog';
import { DocumentMigrationRepository } from '../../shared/cosmos/document-migration.repository';
import { RecordRepository } from '../../shared/cosmos/record.repository';
import { DOCUMENT_SCHEMA_VERSION } from '../../shared/domain/document.schema';
import { migrateDocuments } from '../../shared/sync/document-migration.use-case';
import type { DocumentMigrationStore } from '../../shared/sync/ports';
import { startProvisionedCosmos, type ProvisionedCosmos } from './cosmos.fixture';
import { useStarted } from './lifecycle.helpers';
import { quietLog } from './pull-stack.fixture';

type Doc = Record<string, unknown>;

const V1 = join(__dirname, '..', 'fixtures', 'documents', 'v1');
const SYSTEM = ['_etag', '_rid', '_self', '_ts', '_attachments'];
const stripped = (doc: Doc): Doc =>
  Object.fromEntries(Object.entries(doc).filter(([k]) => !SYSTEM.includes(k)));

/** The v1 fixtures by the container today's code wrote them to. */
const FIXTURES: [ContainerKey, Doc][] = readdirSync(V1)
  .filter((file) => !file.startsWith('checkpoint'))
  .map((file) => {
    const doc = JSON.parse(readFileSync(join(V1, file), 'utf8')) as Doc;
    const key: ContainerKey = file.startsWith('person')
      ? 'people'
      : file === 'account.json'
        ? 'accounts'
        : file === 'opportunity.json'
          ? 'opportunities'
          : file.startsWith('new_')
            ? 'custom'
            : 'directory';
    return [key, stripped(doc)];
  });
const KEYS: ContainerKey[] = ['people', 'accounts', 'opportunities', 'directory', 'custom'];

/** Every leaf of `before` is in `after` with the same value. */
function expectKept(before: unknown, after: unknown, path = '$'): void {
  if (before === null || typeof before !== 'object') {
    expect({ path, value: after }).toEqual({ path, value: before });
    return;
  }
  for (const [key, value] of Object.entries(before)) {
    expectKept(value, (after as Doc | undefined)?.[key], `${path}.${key}`);
  }
}

describe('documents written by the previous version', () => {
  const cosmos = useStarted<ProvisionedCosmos>(() => startProvisionedCosmos('migration'), { each: true });
  const container = (key: ContainerKey) => cosmos().database.container(CONTAINERS[key].id);
  const stores = () =>
    KEYS.map((key) => ({ container: key, store: new DocumentMigrationRepository(container(key)) }));
  const seed = async () => {
    for (const [key, doc] of FIXTURES) await container(key).items.create(doc);
  };
  const all = async (key: ContainerKey) =>
    (await container(key).items.query<Doc>('SELECT * FROM c').fetchAll()).resources;

  it('are read in the current shape by the repositories, with nothing lost or reported invalid', async () => {
    await seed();
    for (const [key, doc] of FIXTURES) {
      const repo = new RecordRepository(container(key), {
        kind: key === 'people' ? 'person' : 'generic',
        mode: 'parallel',
      });
      const found = await repo.findForPage([String(doc.id)]);
      expect(found.invalid).toEqual([]);
      expect(found.docs).toHaveLength(1);
      expect(found.docs[0]?.schemaVersion).toBe(DOCUMENT_SCHEMA_VERSION);
      expectKept(doc, found.docs[0]);
      expect((await repo.read(String(doc.id)))?.schemaVersion).toBe(DOCUMENT_SCHEMA_VERSION);
      // Written back (any write), the document stores the current version.
      const outcome = await repo.write(found.docs);
      expect(outcome).toEqual({ written: 1, conflicts: [] });
      const stored = (await container(key).item(String(doc.id), String(doc.id)).read<Doc>()).resource;
      expect(stored?.schemaVersion).toBe(DOCUMENT_SCHEMA_VERSION);
      expectKept(doc, stored);
    }
  });

  it('dynamics-sync migrate rewrites every one, keeps every field, and a second run finds nothing', async () => {
    await seed();
    const first = await migrateDocuments(stores(), quietLog);
    expect(first.left).toBe(0);
    expect(first.containers.reduce((n, c) => n + c.migrated, 0)).toBe(FIXTURES.length);
    for (const [key, doc] of FIXTURES) {
      const stored = (await all(key)).find((d) => d.id === doc.id);
      expect(stored?.schemaVersion).toBe(DOCUMENT_SCHEMA_VERSION);
      expectKept(doc, stored);
    }
    const again = await migrateDocuments(stores(), quietLog);
    expect(again.containers.reduce((n, c) => n + c.migrated, 0)).toBe(0);
  });

  it('resumes after an interruption, and never overwrites an edit made between its read and write', async () => {
    await seed();
    const people = new DocumentMigrationRepository(container('people'));
    let replaced = 0;
    const crashing: DocumentMigrationStore = {
      outdated: (version, limit) => people.outdated(version, limit),
      replace: async (doc) => {
        if (replaced === 1) throw new Error('injected crash');
        replaced += 1;
        return people.replace(doc);
      },
    };
    await expect(migrateDocuments([{ container: 'people', store: crashing }], quietLog)).rejects.toThrow(
      'crash',
    );
    expect((await all('people')).filter((d) => d.schemaVersion === DOCUMENT_SCHEMA_VERSION)).toHaveLength(1);

    // A marketing tool edits a person after the migration read it: the write is refused and read again.
    const editing: DocumentMigrationStore = {
      outdated: (version, limit) => people.outdated(version, limit),
      replace: async (doc) => {
        if (doc.jobTitle !== 'Edited meanwhile') {
          const { resource } = await container('people').item(String(doc.id), String(doc.id)).read<Doc>();
          await container('people')
            .item(String(doc.id), String(doc.id))
            .replace({ ...resource, jobTitle: 'Edited meanwhile' });
        }
        return people.replace(doc);
      },
    };
    const report = await migrateDocuments([{ container: 'people', store: editing }], quietLog);
    expect(report.left).toBe(0);
    expect(report.containers[0]?.retried).toBeGreaterThan(0);
    const stored = await all('people');
    expect(stored.every((d) => d.schemaVersion === DOCUMENT_SCHEMA_VERSION)).toBe(true);
    expect(stored.filter((d) => d.jobTitle === 'Edited meanwhile')).toHaveLength(2);
  });
});
