import type { ModifiedPage } from '../../shared/sync/ports';
import { BUILT_IN_ENTITIES } from '../../shared/config/entity.catalog';
import { DEFAULT_SYNC_CONFIG, type SyncConfig } from '../../shared/config/sync-config.schema';
import { buildEntityProfile, type EntityProfile } from '../../shared/domain/entity.profile';
import type { SourceMeta } from '../../shared/domain/record.model';

export function profileOf(name: string, config: SyncConfig = DEFAULT_SYNC_CONFIG): EntityProfile {
  const entity = BUILT_IN_ENTITIES.find((e) => e.logicalName === name);
  if (!entity) throw new Error(`no entity ${name}`);
  return buildEntityProfile(entity, config);
}

/** What a stored document keeps about its Dynamics row: version 1, active, not merged. */
export const sourceMeta = (id: string, table: string, overrides: Partial<SourceMeta> = {}): SourceMeta => ({
  id,
  table,
  etag: 'W/"1"',
  versionnumber: 1,
  modifiedon: null,
  statecode: null,
  statuscode: null,
  merged: false,
  masterId: null,
  hash: 'h',
  ...overrides,
});

export const LEAD = '11111111-1111-4111-8111-111111111111';
export const CONTACT = '22222222-2222-4222-8222-222222222222';
export const ACCOUNT = '33333333-3333-4333-8333-333333333333';
export const USER = '44444444-4444-4444-8444-444444444444';
export const OTHER = '55555555-5555-4555-8555-555555555555';

const FV = '@OData.Community.Display.V1.FormattedValue';
const LLN = '@Microsoft.Dynamics.CRM.lookuplogicalname';

/** The person both the lead and the contact describe. */
const ADA = {
  firstname: 'Ada',
  lastname: 'Lovelace',
  emailaddress1: 'ada@example.com',
  jobtitle: 'Engineer',
  telephone1: '+44 1',
};

/**
 * A row factory for one table: etag, the table's `columns`, then the columns every row ends with
 * (not merged, active, with the state's formatted `labels` where the table has them, owned by USER,
 * modified at `modifiedon` in `version`), then the test's overrides.
 */
function rowOf(
  defaults: { version: number; modifiedon: string; labels?: { state: string; status: string } },
  columns: Record<string, unknown>,
) {
  const { modifiedon, labels } = defaults;
  return (overrides: Record<string, unknown> = {}, version = defaults.version): Record<string, unknown> => ({
    '@odata.etag': `W/"${version}"`,
    ...columns,
    merged: false,
    _masterid_value: null,
    statecode: 0,
    ...(labels ? { [`statecode${FV}`]: labels.state } : {}),
    statuscode: 1,
    ...(labels ? { [`statuscode${FV}`]: labels.status } : {}),
    _ownerid_value: USER,
    [`_ownerid_value${LLN}`]: 'systemuser',
    modifiedon,
    versionnumber: version,
    ...overrides,
  });
}

export const leadRow = rowOf(
  { version: 10, modifiedon: '2026-01-01T10:00:00Z', labels: { state: 'Open', status: 'New' } },
  {
    leadid: LEAD,
    ...ADA,
    companyname: 'Analytical Ltd',
    leadsourcecode: 1,
    [`leadsourcecode${FV}`]: 'Advertisement',
    industrycode: null,
    _parentaccountid_value: null,
    _parentcontactid_value: null,
    new_synctomkto: true,
  },
);

export const contactRow = rowOf(
  { version: 20, modifiedon: '2026-01-01T11:00:00Z', labels: { state: 'Active', status: 'Active' } },
  {
    contactid: CONTACT,
    ...ADA,
    mobilephone: null,
    preferredcontactmethodcode: 2,
    [`preferredcontactmethodcode${FV}`]: 'Email',
    donotemail: false,
    _parentcustomerid_value: ACCOUNT,
    [`_parentcustomerid_value${LLN}`]: 'account',
    [`_parentcustomerid_value${FV}`]: 'Analytical Ltd',
    _originatingleadid_value: null,
    new_synctomkto: null,
  },
);

export const accountRow = rowOf(
  { version: 30, modifiedon: '2026-01-01T12:00:00Z' },
  {
    accountid: ACCOUNT,
    name: 'Analytical Ltd',
    accountnumber: 'A-1',
    industrycode: 7,
    [`industrycode${FV}`]: 'Consulting',
    websiteurl: null,
    telephone1: null,
    address1_city: 'London',
    address1_country: 'UK',
    numberofemployees: 1200,
    [`numberofemployees${FV}`]: '1,200',
    _primarycontactid_value: CONTACT,
    [`_primarycontactid_value${LLN}`]: 'contact',
    _parentaccountid_value: null,
    new_synctomkto: true,
  },
);

/** A change source's reads a test does not use: each yields no page. */
export async function* noModifiedPages(): AsyncGenerator<ModifiedPage> {}
