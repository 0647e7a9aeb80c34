import { buildEntityProfile } from '../../shared/domain/entity.profile';
import { contentHash, stableStringify } from '../../shared/domain/content.hash';
import { mapRow, type MappedRow } from '../../shared/domain/row.mapper';
import { DEFAULT_SYNC_CONFIG, parseSyncConfig } from '../../shared/config/sync-config.schema';
import { ACCOUNT, CONTACT, LEAD, USER, accountRow, contactRow, leadRow, profileOf } from './domain-fixtures';

describe('row mapper', () => {
  it('keeps choices as {value,label}, lookups as {id,table}, and metadata apart', () => {
    const result = mapRow(profileOf('account'), accountRow());
    if (!result.ok) throw new Error(result.error.message);
    const row = result.row;
    expect(row.id).toBe(ACCOUNT);
    expect(row.values.industrycode).toEqual({ value: 7, label: 'Consulting' });
    expect(row.values.numberofemployees).toBe(1200);
    expect(row.values.primarycontactid).toEqual({ id: CONTACT, table: 'contact' });
    expect(row.values.ownerid).toEqual({ id: USER, table: 'systemuser' });
    expect(row.values).not.toHaveProperty('statecode');
    expect(row.values).not.toHaveProperty('versionnumber');
    expect(row.values).not.toHaveProperty('new_synctomkto');
    expect(row.statecode).toEqual({ value: 0, label: null });
    expect(row).toMatchObject({
      etag: 'W/"30"',
      versionnumber: 30,
      merged: false,
      masterId: null,
      filter: true,
    });
  });

  it('reads the filter column: null and missing are null, false is false', () => {
    const missing = { ...contactRow() };
    delete missing.new_synctomkto;
    expect(mapRow(profileOf('contact'), missing)).toMatchObject({ ok: true, row: { filter: null } });
    expect(mapRow(profileOf('contact'), contactRow({ new_synctomkto: false }))).toMatchObject({
      ok: true,
      row: { filter: false },
    });
  });

  it('uses the configured filter column name', () => {
    const config = parseSyncConfig({ syncFilterColumn: 'cr1_sync' });
    const profile = profileOf('lead', config);
    expect(profile.select).toContain('cr1_sync');
    expect(profile.select).not.toContain('new_synctomkto');
    expect(mapRow(profile, leadRow({ cr1_sync: false }))).toMatchObject({ ok: true, row: { filter: false } });
    // Tables without a filter column never get one added (it would be an unknown column).
    expect(profileOf('opportunity', config).select).not.toContain('cr1_sync');
  });

  it('reports merged rows with their survivor, lower-cased', () => {
    const result = mapRow(
      profileOf('lead'),
      leadRow({ merged: true, _masterid_value: ACCOUNT.toUpperCase() }),
    );
    expect(result).toMatchObject({ ok: true, row: { merged: true, masterId: ACCOUNT } });
  });

  it('rejects an invalid row with a safe excerpt naming the bad column', () => {
    const result = mapRow(profileOf('lead'), leadRow({ firstname: 42, leadid: 'not-a-guid' }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('invalid_row');
    expect(result.error.message).toMatch(/firstname/);
    expect(result.error.message).toMatch(/leadid/);
    expect(result.error.excerpt).toContain('firstname');
    expect(result.error.excerpt).not.toContain('ada@example.com');
  });

  it('hashes content, not row versions', () => {
    const a = mapRow(profileOf('lead'), leadRow({}, 10));
    const b = mapRow(profileOf('lead'), leadRow({}, 99));
    const c = mapRow(profileOf('lead'), leadRow({ jobtitle: 'CTO' }, 10));
    if (!a.ok || !b.ok || !c.ok) throw new Error('invalid');
    expect(a.row.hash).toBe(b.row.hash);
    expect(a.row.hash).not.toBe(c.row.hash);
  });

  it('types untyped custom columns from their annotations', () => {
    const profile = buildEntityProfile(
      {
        logicalName: 'cr1_project',
        entitySet: 'cr1_projects',
        key: 'cr1_projectid',
        container: 'custom',
        direction: 'pull',
        custom: true,
        columns: [
          'cr1_name',
          'cr1_tier',
          'cr1_budget',
          'cr1_tags',
          '_cr1_contact_value',
          'modifiedon',
          'versionnumber',
        ],
      },
      DEFAULT_SYNC_CONFIG,
    );
    const result = mapRow(profile, {
      '@odata.etag': 'W/"5"',
      cr1_projectid: ACCOUNT,
      cr1_name: 'P',
      cr1_tier: 100000001,
      'cr1_tier@OData.Community.Display.V1.FormattedValue': 'Gold',
      cr1_budget: 1000,
      'cr1_budget@OData.Community.Display.V1.FormattedValue': '$1,000.00',
      cr1_tags: '1,3',
      _cr1_contact_value: CONTACT,
      '_cr1_contact_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'contact',
      modifiedon: '2026-01-01T00:00:00Z',
      versionnumber: 5,
    });
    if (!result.ok) throw new Error(result.error.message);
    expect(result.row.values).toEqual({
      cr1_name: 'P',
      cr1_tier: { value: 100000001, label: 'Gold' },
      cr1_budget: 1000,
      cr1_tags: '1,3',
      cr1_contact: { id: CONTACT, table: 'contact' },
    });
  });

  it('serializes keys in a stable order', () => {
    expect(stableStringify({ b: 1, a: { d: 2, c: [1, { f: 1, e: 2 }] } })).toBe(
      '{"a":{"c":[1,{"e":2,"f":1}],"d":2},"b":1}',
    );
    expect(contentHash({ a: 1, b: 2 })).toBe(contentHash({ b: 2, a: 1 }));
  });
});

describe('row mapper quick validation', () => {
  const hashOf = (row: MappedRow) =>
    contentHash({
      values: row.values,
      lookupNames: row.lookupNames,
      statecode: row.statecode,
      statuscode: row.statuscode,
      merged: row.merged,
      masterId: row.masterId,
    });
  const rows: [string, Record<string, unknown>][] = [
    ['lead', leadRow()],
    ['lead', leadRow({ merged: true, _masterid_value: LEAD.toUpperCase(), jobtitle: 'Ünïcødé "q"' })],
    ['contact', contactRow()],
    ['contact', contactRow({ new_synctomkto: null, _parentcustomerid_value: null })],
    // A multi-select choice (an array of values) and a choice without a label.
    ['contact', contactRow({ preferredcontactmethodcode: '1,-2,3', statuscode: 2 })],
    ['account', accountRow()],
  ];

  it.each(rows)('hashes a %s row exactly as the sorted-key JSON of its content did', (entity, raw) => {
    const result = mapRow(profileOf(entity), raw);
    if (!result.ok) throw new Error(result.error.message);
    expect(result.row.hash).toBe(hashOf(result.row));
  });

  it('maps rows the quick check leaves to zod exactly as zod-validated rows', () => {
    // An IEEE754Compatible version string and an upper-case key take zod's path (transforms).
    const viaZod = mapRow(
      profileOf('lead'),
      leadRow({ versionnumber: '10', leadid: LEAD.toUpperCase(), _ownerid_value: USER.toUpperCase() }),
    );
    const quick = mapRow(profileOf('lead'), leadRow());
    if (!viaZod.ok || !quick.ok) throw new Error('invalid');
    expect(viaZod.row).toEqual(quick.row);
    expect(quick.row.values.ownerid).toEqual({ id: USER, table: 'systemuser' });
  });

  it.each([
    ['a non-integer int', { numberofemployees: 1.5 }, 'numberofemployees'],
    ['a string for a bool', { new_synctomkto: 'yes' }, 'new_synctomkto'],
    ['a bad date', { modifiedon: 'yesterday' }, 'modifiedon'],
    ['a bad lookup', { _ownerid_value: 'nobody' }, '_ownerid_value'],
    ['a missing etag', { '@odata.etag': '' }, '@odata.etag'],
    ['an object in an any column', { name: { x: 1 } }, 'name'],
  ])('still rejects %s, naming the column', (_label, override, column) => {
    const result = mapRow(profileOf('account'), accountRow(override));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.message).toContain(column);
  });

  it('rejects a row that is not an object', () => {
    expect(mapRow(profileOf('account'), [accountRow()]).ok).toBe(false);
    expect(mapRow(profileOf('account'), null).ok).toBe(false);
  });
});
