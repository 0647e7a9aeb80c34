import { CONTAINERS } from '../../shared/config/entity.catalog';
import { CheckpointRepository } from '../../shared/cosmos/checkpoint.repository';
import { CosmosStoreError } from '../../shared/cosmos/cosmos.errors';
import { RecordRepository } from '../../shared/cosmos/record.repository';
import { SyncErrorRepository } from '../../shared/cosmos/sync-error.repository';
import { afterPage, startFullLoad } from '../../shared/domain/checkpoint.state';
import type { GenericRecord, PersonRecord } from '../../shared/domain/record.model';
import { startProvisionedCosmos } from './cosmos.fixture';
import { useStarted } from './lifecycle.helpers';

const meta = (id: string, version: number) => ({
  id,
  table: 'account',
  etag: `W/"${version}"`,
  versionnumber: version,
  modifiedon: null,
  statecode: null,
  statuscode: null,
  merged: false,
  masterId: null,
  hash: `h${version}`,
});

const account = (id: string, name: string, version = 1): GenericRecord => ({
  id,
  entity: 'account',
  values: { name },
  dynamics: meta(id, version),
  sync: { updatedAt: '2026-01-01T00:00:00Z' },
});

describe('pull repositories against the Cosmos stand-in', () => {
  const store = useStarted(() => startProvisionedCosmos('m'));
  const db = () => store().database;

  for (const mode of ['bulk', 'parallel'] as const) {
    it(`${mode}: creates, replaces with the read _etag, and reports lost races as conflicts`, async () => {
      const container = db().container(CONTAINERS.accounts.id);
      const repo = new RecordRepository(container, { kind: 'generic', mode });
      const a = `a-${mode}`;
      const b = `b-${mode}`;
      expect(await repo.write([account(a, 'A'), account(b, 'B')])).toEqual({ written: 2, conflicts: [] });
      const found = await repo.findForPage([a, b, 'missing']);
      expect(found.docs.map((d) => d.id).sort()).toEqual([a, b]);
      const stored = found.docs.find((d) => d.id === a) as GenericRecord;
      expect(stored._etag).toEqual(expect.any(String));
      // Someone else writes A after we read it: our replace must not win.
      await container.item(a, a).replace({ ...account(a, 'theirs'), sync: { updatedAt: 'x' } });
      const outcome = await repo.write([{ ...stored, values: { name: 'ours' } }, account(b, 'dup')]);
      expect(outcome.written).toBe(0);
      expect(outcome.conflicts.sort()).toEqual([a, b]);
      const { resource } = await container.item(a, a).read<GenericRecord>();
      expect(resource?.values.name).toBe('theirs');
      // Re-read and write again: succeeds.
      const fresh = (await repo.findForPage([a])).docs[0] as GenericRecord;
      expect(await repo.write([{ ...fresh, values: { name: 'ours' } }])).toEqual({
        written: 1,
        conflicts: [],
      });
      console.log(`record repository write mode requested=${mode} effective=${repo.writeMode}`);
    });
  }

  it('finds people by their lead or contact id and reports malformed stored documents', async () => {
    const container = db().container(CONTAINERS.people.id);
    const repo = new RecordRepository(container, { kind: 'person' });
    const person: PersonRecord = {
      id: 'lead-1',
      entity: 'person',
      type: 'contact',
      firstName: 'Ada',
      dynamics: {
        leadId: 'lead-1',
        contactId: 'contact-1',
        etag: 'W/"1"',
        versionnumber: 1,
        modifiedon: null,
        contact: { ...meta('contact-1', 1), table: 'contact', values: {} },
      },
      sync: { updatedAt: 'now', agreed: { firstName: 'Ada' } },
    };
    await repo.write([person]);
    await container.items.create({ id: 'broken', entity: 'person' });
    const found = await repo.findForPage(['contact-1', 'broken']);
    expect(found.docs.map((d) => d.id)).toEqual(['lead-1']);
    expect(found.invalid).toEqual([expect.objectContaining({ id: 'broken', etag: expect.any(String) })]);
    const pages = [];
    for await (const page of repo.recordsOf('contact', 1)) pages.push(page);
    expect(pages.flatMap((p) => p.docs.map((d) => d.id))).toEqual(['lead-1']);
  });

  it('lists the records of one entity page by page', async () => {
    const repo = new RecordRepository(db().container(CONTAINERS.directory.id), { kind: 'generic' });
    await repo.write([1, 2, 3].map((n) => ({ ...account(`u${n}`, `U${n}`), entity: 'systemuser' })));
    await repo.write([{ ...account('t1', 'T1'), entity: 'team' }]);
    const pages = [];
    for await (const page of repo.recordsOf('systemuser', 2)) pages.push(page.docs.map((d) => d.id));
    expect(pages.flat().sort()).toEqual(['u1', 'u2', 'u3']);
    expect(pages.length).toBeGreaterThanOrEqual(2);
  });

  it('guards checkpoint saves with the _etag so two writers cannot both win', async () => {
    const repo = new CheckpointRepository(db().container(CONTAINERS.syncState.id));
    expect(await repo.get('lead')).toBeUndefined();
    const now = new Date('2026-01-01T00:00:00Z');
    const saved = await repo.save(startFullLoad('lead', 'load', now, false));
    expect(saved._etag).toEqual(expect.any(String));
    const one = await repo.save(afterPage(saved, { nextLink: 'n1' }, now));
    const error = await repo.save(afterPage(saved, { nextLink: 'n2' }, now)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CosmosStoreError);
    expect((error as CosmosStoreError).code).toBe('precondition_failed');
    expect((await repo.get('lead'))?.nextLink).toBe('n1');
    // A second creator of a first checkpoint loses too.
    await expect(repo.save(startFullLoad('lead', 'other', now, false))).rejects.toMatchObject({
      code: 'precondition_failed',
    });
    expect(one.nextLink).toBe('n1');
    await repo.reset('lead');
    expect(await repo.get('lead')).toBeUndefined();
  });

  it('records sync errors once per record and code', async () => {
    const repo = new SyncErrorRepository(db().container(CONTAINERS.syncErrors.id));
    const input = {
      entity: 'contact',
      recordId: 'c1',
      operation: 'pull' as const,
      direction: 'dynamics-to-marketing' as const,
      code: 'invalid_row',
      message: 'firstname: expected string',
      excerpt: '{"contactid":"c1"}',
      at: '2026-01-01T00:00:00Z',
    };
    await repo.record(input);
    await repo.record({ ...input, at: '2026-01-02T00:00:00Z' });
    const list = await repo.list('contact');
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 'pull:contact:c1:invalid_row', at: '2026-01-02T00:00:00Z' });
  });
});
