import { buildCatalog, DEFAULT_SYNC_CONFIG } from '../../shared/config/sync-config.schema';
import { buildEntityProfile } from '../../shared/domain/entity.profile';
import { PUSH_STATE_KEY, pendingEdits, pushSignature } from '../../shared/domain/push.planner';
import type { PersonRecord } from '../../shared/domain/record.model';
import {
  classifyOrphan,
  classifyPush,
  classifyRow,
  countVerdict,
  driftOf,
  emptyCounts,
  inFlight,
  type RowState,
  type StoredRow,
  type SyncWindow,
} from '../../shared/domain/verify.rules';

const CAUGHT_UP = '2026-01-01T12:00:00.000Z';
const OLD = '2026-01-01T10:00:00Z';
const NEW = '2026-01-01T12:30:00Z';

const window = (over: Partial<SyncWindow> = {}): SyncWindow => ({
  caughtUpFrom: CAUGHT_UP,
  pending: new Set(),
  paused: false,
  ...over,
});

const row = (over: Partial<RowState> = {}): RowState => ({
  id: 'r1',
  versionnumber: 10,
  modifiedon: OLD,
  hash: 'h10',
  filter: true,
  values: { name: 'Acme' },
  statecode: { value: 0, label: 'Active' },
  statuscode: { value: 1, label: 'Active' },
  lookupNames: {},
  ...over,
});

const stored = (over: Partial<StoredRow> = {}): StoredRow => ({
  docId: 'r1',
  versionnumber: 10,
  hash: 'h10',
  values: { name: 'Acme' },
  statecode: { value: 0, label: 'Active' },
  statuscode: { value: 1, label: 'Active' },
  excluded: false,
  deleted: false,
  recordDeleted: false,
  suppressed: false,
  ...over,
});

describe('verify rules: what is in flight', () => {
  it.each([
    ['an old change, caught up since', window(), OLD, false],
    ['a change newer than the last caught-up pull', window(), NEW, true],
    ['a change just before it, within the clock skew', window(), '2026-01-01T11:59:30Z', true],
    ['a change waiting in the feed', window({ pending: new Set(['r1']) }), OLD, true],
    ['anything before the first caught-up pull', window({ caughtUpFrom: undefined }), OLD, true],
    ['nothing of a paused entity', window({ paused: true, pending: new Set(['r1']) }), NEW, false],
    ['a row without modifiedon', window(), null, false],
  ])('%s', (_name, w, modifiedon, expected) => {
    expect(inFlight(w, 'r1', modifiedon)).toBe(expected);
  });
});

describe('verify rules: a Dynamics row against its stored copy', () => {
  it.each<[string, RowState, StoredRow | undefined, SyncWindow, string, string[]?]>([
    ['same content', row(), stored(), window(), 'in_sync'],
    [
      'a newer version with the same hash (an unsynced column changed)',
      row({ versionnumber: 11 }),
      stored(),
      window(),
      'in_sync',
    ],
    [
      'a stored version ahead (a replayed page)',
      row({ hash: 'x' }),
      stored({ versionnumber: 12 }),
      window(),
      'in_sync',
    ],
    ['no copy', row(), undefined, window(), 'missing_in_cosmos', []],
    ['no copy of a row changed since the pull', row({ modifiedon: NEW }), undefined, window(), 'in_flight'],
    [
      'a newer version with other values',
      row({ versionnumber: 11, hash: 'h11', values: { name: 'Acme Ltd' } }),
      stored(),
      window(),
      'stale',
      ['name'],
    ],
    [
      'a state change',
      row({ versionnumber: 11, hash: 'h11', statecode: { value: 1, label: 'Inactive' } }),
      stored(),
      window(),
      'stale',
      ['statecode'],
    ],
    [
      'a lookup renamed (same values, same version): not drift, read again',
      row({ hash: 'h10b', lookupNames: { parentcustomerid: 'New Name' } }),
      stored(),
      window(),
      'renamed',
    ],
    [
      'a lookup renamed while the row is in flight',
      row({ hash: 'h10b', modifiedon: NEW, lookupNames: { parentcustomerid: 'New Name' } }),
      stored(),
      window(),
      'renamed',
    ],
    [
      'a stale copy of a row changed since the pull',
      row({ versionnumber: 11, hash: 'h11', modifiedon: NEW }),
      stored(),
      window(),
      'in_flight',
    ],
    [
      'flagged deleted while live',
      row(),
      stored({ deleted: true }),
      window(),
      'stale',
      ['deletedInDynamics'],
    ],
    [
      'a person flagged deleted while this row of it is live',
      row(),
      stored({ recordDeleted: true }),
      window(),
      'stale',
      ['deletedInDynamics'],
    ],
    [
      'flagged excluded while included',
      row(),
      stored({ excluded: true }),
      window(),
      'stale',
      ['new_synctomkto'],
    ],
    ['excluded and absent', row({ filter: false }), undefined, window(), 'filtered_out'],
    ['excluded and flagged', row({ filter: false }), stored({ excluded: true }), window(), 'filtered_out'],
    [
      'excluded but the copy is live',
      row({ filter: false }),
      stored(),
      window(),
      'excluded',
      ['new_synctomkto'],
    ],
    ['excluded since the pull', row({ filter: false, modifiedon: NEW }), stored(), window(), 'in_flight'],
    [
      'forgotten on request',
      row({ versionnumber: 11, hash: 'h11' }),
      stored({ suppressed: true }),
      window(),
      'in_sync',
    ],
    [
      'a paused entity: nothing in flight',
      row({ modifiedon: NEW }),
      undefined,
      window({ paused: true }),
      'missing_in_cosmos',
      [],
    ],
  ])('%s', (...[, r, s, w, expected, fields]) => {
    const verdict = classifyRow('account', r, s, w, 'new_synctomkto');
    if (verdict.kind === 'drift') {
      expect(verdict.finding.code).toBe(expected);
      expect(verdict.finding.fields).toEqual(fields);
      expect(verdict.finding.id).toBe('r1');
    } else {
      expect(verdict.kind).toBe(expected);
    }
  });

  it('a renamed lookup names the row and the lookups, and counts apart from drift', () => {
    const verdict = classifyRow(
      'contact',
      row({ hash: 'h10b', lookupNames: { parentcustomerid: 'New', ownerid: 'Owner' } }),
      stored(),
      window(),
      undefined,
    );
    expect(verdict).toEqual({ kind: 'renamed', id: 'r1', lookups: ['ownerid', 'parentcustomerid'] });
    const counts = emptyCounts();
    expect(countVerdict(counts, verdict)).toBeUndefined();
    expect(counts.renamed).toBe(1);
    expect(driftOf(counts)).toBe(0);
  });

  it('names the person holding a row under another id', () => {
    const verdict = classifyRow(
      'contact',
      row({ hash: 'x', versionnumber: 11 }),
      stored({ docId: 'p1' }),
      window(),
      undefined,
    );
    expect(verdict).toMatchObject({ kind: 'drift', finding: { id: 'r1', personId: 'p1' } });
  });
});

describe('verify rules: a stored record whose row Dynamics did not list', () => {
  const orphan = {
    entity: 'account',
    rowId: 'r1',
    docId: 'r1',
    flaggedDeleted: false,
    confirmedAbsent: true,
  };
  it.each([
    ['gone and not flagged', orphan, window(), 'drift'],
    ['already flagged deleted', { ...orphan, flaggedDeleted: true }, window(), 'in_sync'],
    [
      'found by id after all (created during the scan)',
      { ...orphan, confirmedAbsent: false },
      window(),
      'in_sync',
    ],
    ['its tombstone waits in the feed', orphan, window({ pending: new Set(['r1']) }), 'in_flight'],
    ['before the first caught-up pull', orphan, window({ caughtUpFrom: undefined }), 'in_flight'],
    ['paused, tombstone waiting', orphan, window({ paused: true, pending: new Set(['r1']) }), 'drift'],
  ])('%s', (_name, state, w, expected) => {
    const verdict = classifyOrphan(state, w);
    expect(verdict.kind).toBe(expected);
    if (verdict.kind === 'drift')
      expect(verdict.finding).toMatchObject({ code: 'gone_from_dynamics', id: 'r1' });
  });
});

describe('verify rules: marketing edits not in Dynamics', () => {
  const rules = buildEntityProfile(
    buildCatalog(DEFAULT_SYNC_CONFIG).get('contact'),
    DEFAULT_SYNC_CONFIG,
  ).personFields;
  const source = {
    id: 'c1',
    table: 'contact',
    etag: 'W/"1"',
    versionnumber: 1,
    modifiedon: OLD,
    statecode: null,
    statuscode: null,
    merged: false,
    masterId: null,
    hash: 'h',
    values: {},
  };
  const person: PersonRecord = {
    id: 'p1',
    entity: 'person',
    type: 'contact',
    jobTitle: 'Agreed',
    dynamics: { contactId: 'c1', etag: 'W/"1"', versionnumber: 1, modifiedon: OLD, contact: source },
    sync: { updatedAt: OLD, agreed: { jobTitle: 'Agreed' } },
  };
  const edited: PersonRecord = { ...person, jobTitle: 'Edited' };
  const signature = pushSignature(
    { table: 'contact', rowId: 'c1', etag: 'W/"1"' },
    pendingEdits(edited, rules),
  );
  const withState = (status: string, at: string) =>
    ({ ...edited, [PUSH_STATE_KEY]: { status, code: 'x', message: 'x', at, signature } }) as PersonRecord;
  const now = Date.parse('2026-01-01T13:00:00Z');
  const hour = 3600_000;
  it.each<[string, PersonRecord, number, string]>([
    ['no edit', person, now - 5 * hour, 'none'],
    ['a young edit', edited, now - 60_000, 'in_flight'],
    ['an edit older than the window', edited, now - 3 * hour, 'drift'],
    [
      'retrying, inside the window',
      withState('retrying', new Date(now - hour).toISOString()),
      now,
      'in_flight',
    ],
    ['retrying past the window', withState('retrying', new Date(now - 3 * hour).toISOString()), now, 'drift'],
    ['parked', withState('parked', new Date(now - 60_000).toISOString()), now, 'drift'],
    ['refused by Dynamics', withState('error', new Date(now - 60_000).toISOString()), now, 'drift'],
    [
      'a deleted person (nothing to push)',
      { ...edited, sync: { ...edited.sync, deletedInDynamics: { at: OLD } } },
      0,
      'none',
    ],
  ])('%s', (_name, doc, lastWrite, expected) => {
    const verdict = classifyPush('contact', doc, rules, lastWrite, now, 2 * hour);
    expect(verdict.kind).toBe(expected);
    if (verdict.kind === 'drift')
      expect(verdict.finding).toMatchObject({ code: 'unpushed', id: 'p1', fields: ['jobTitle'] });
  });
});

describe('verify rules: counting', () => {
  it('counts every verdict and keeps only drift as findings', () => {
    const counts = emptyCounts();
    expect(countVerdict(counts, { kind: 'in_sync' })).toBeUndefined();
    expect(countVerdict(counts, { kind: 'in_flight', code: 'stale' })).toBeUndefined();
    expect(countVerdict(counts, { kind: 'filtered_out' })).toBeUndefined();
    const finding = { code: 'stale' as const, entity: 'account', id: 'r1', fields: ['name'], detail: '' };
    expect(countVerdict(counts, { kind: 'drift', finding })).toBe(finding);
    expect(counts).toMatchObject({ inSync: 1, inFlight: 1, filteredOut: 1, findings: { stale: 1 } });
    expect(driftOf(counts)).toBe(1);
  });
});
