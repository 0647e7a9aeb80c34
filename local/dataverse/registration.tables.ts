// The event registration tables: service endpoints (where Dataverse posts), SDK messages and their
// per-table filters (what can be listened to), and processing steps (who listens to what). As in
// Dataverse they are ordinary rows, so a client registers a webhook through the Web API.
import type { DataStore } from './data.store';
import { isoSeconds } from './data.store';
import { buildTable, col, type ChoiceOption, type TableDef } from './schema.catalog';
import { guidFromText } from './seed.random';

const opts = (...labels: [number, string][]): ChoiceOption[] =>
  labels.map(([value, label]) => ({ value, label }));

/** `serviceendpoint.contract`: 8 is a webhook. */
export const CONTRACT_WEBHOOK = 8;
/** `serviceendpoint.authtype` of a webhook: a `code` query key, HTTP headers, or query parameters. */
export const AUTH_WEBHOOK_KEY = 4;
export const AUTH_HTTP_HEADER = 5;
export const AUTH_HTTP_QUERY_STRING = 6;

export const registrationTables = (): TableDef[] => [
  buildTable({
    logicalName: 'serviceendpoint',
    schemaName: 'ServiceEndpoint',
    entitySetName: 'serviceendpoints',
    primaryKey: 'serviceendpointid',
    primaryName: 'name',
    ownership: 'none',
    columns: [
      col.string('name', 256),
      col.memo('description'),
      {
        ...col.choice(
          'contract',
          opts(
            [1, 'OneWay'],
            [2, 'Queue'],
            [3, 'Rest'],
            [4, 'TwoWay'],
            [5, 'Topic'],
            [6, 'Queue_Persistent'],
            [7, 'EventHub'],
            [8, 'Webhook'],
            [9, 'EventGrid'],
            [10, 'ManagedDataLake'],
          ),
        ),
        default: 1,
      },
      col.string('url', 2000),
      col.string('namespaceaddress', 2000),
      {
        ...col.choice(
          'authtype',
          opts(
            [1, 'ACS'],
            [2, 'SASKey'],
            [3, 'SASToken'],
            [4, 'WebhookKey'],
            [5, 'HttpHeader'],
            [6, 'HttpQueryString'],
            [7, 'ConnectionString'],
            [8, 'AccessKey'],
            [9, 'ManagedIdentity'],
          ),
        ),
        default: 2,
      },
      col.memo('authvalue'),
      { ...col.choice('messageformat', opts([1, 'BinaryXML'], [2, 'Json'], [3, 'TextXML'])), default: 2 },
      { ...col.choice('userclaim', opts([1, 'None'], [2, 'UserId'], [3, 'UserInfo'])), default: 1 },
    ],
  }),
  buildTable({
    logicalName: 'sdkmessage',
    schemaName: 'SdkMessage',
    entitySetName: 'sdkmessages',
    primaryKey: 'sdkmessageid',
    primaryName: 'name',
    ownership: 'none',
    // The platform's messages are not created through the API (custom APIs aside, not modelled).
    apiReadOnly: true,
    columns: [col.string('name', 256), col.string('categoryname', 25), col.bool('isprivate')],
  }),
  buildTable({
    logicalName: 'sdkmessagefilter',
    schemaName: 'SdkMessageFilter',
    entitySetName: 'sdkmessagefilters',
    primaryKey: 'sdkmessagefilterid',
    primaryName: 'name',
    ownership: 'none',
    apiReadOnly: true,
    columns: [
      col.string('name', 256),
      col.lookup('sdkmessageid', { sdkmessageid: 'sdkmessage' }, true),
      // EntityName columns: the table's logical name as a string in the Web API.
      col.string('primaryobjecttypecode', 64),
      col.string('secondaryobjecttypecode', 64),
      col.bool('iscustomprocessingstepallowed'),
    ],
  }),
  buildTable({
    logicalName: 'sdkmessageprocessingstep',
    schemaName: 'SdkMessageProcessingStep',
    entitySetName: 'sdkmessageprocessingsteps',
    primaryKey: 'sdkmessageprocessingstepid',
    primaryName: 'name',
    ownership: 'none',
    states: [
      { state: 0, label: 'Enabled', statuses: opts([1, 'Enabled']) },
      { state: 1, label: 'Disabled', statuses: opts([2, 'Disabled']) },
    ],
    columns: [
      col.string('name', 256),
      col.memo('description'),
      { ...col.choice('mode', opts([0, 'Synchronous'], [1, 'Asynchronous'])), default: 0 },
      {
        ...col.choice(
          'stage',
          opts([10, 'Pre-validation'], [20, 'Pre-operation'], [30, 'Main Operation'], [40, 'Post-operation']),
        ),
        default: 40,
      },
      { ...col.int('rank'), default: 1 },
      {
        ...col.choice(
          'supporteddeployment',
          opts([0, 'Server Only'], [1, 'Microsoft Dynamics 365 Client for Outlook Only'], [2, 'Both']),
        ),
        default: 0,
      },
      { ...col.bool('asyncautodelete'), default: false },
      col.string('filteringattributes', 100000),
      col.lookup('sdkmessageid', { sdkmessageid: 'sdkmessage' }),
      col.lookup('sdkmessagefilterid', { sdkmessagefilterid: 'sdkmessagefilter' }),
      // Polymorphic in Dataverse (a plug-in type or a service endpoint); only endpoints are modelled.
      {
        ...col.lookup('eventhandler', { eventhandler_serviceendpoint: 'serviceendpoint' }),
        deletedWith: ['serviceendpoint'],
      },
    ],
  }),
];

/** Messages seeded, and the tables each has a filter for (`undefined`: every table with rows of its own). */
const MESSAGES: Record<string, readonly string[] | undefined> = {
  Create: undefined,
  Update: undefined,
  Delete: undefined,
  Assign: undefined,
  SetState: undefined,
  SetStateDynamicEntity: undefined,
  Merge: ['account', 'contact', 'lead'],
  QualifyLead: ['lead'],
};

export const sdkMessageId = (name: string): string => guidFromText(`sdkmessage:${name}`);
export const sdkMessageFilterId = (message: string, table: string): string =>
  guidFromText(`sdkmessagefilter:${message}:${table}`);

/**
 * Seeds the messages and their filters for every table that takes events (not intersect tables,
 * not the registration tables themselves; Assign and SetState only where a row has an owner or a
 * state). Ids are derived from the names, so they are the same in every run.
 */
export const seedRegistration = (store: DataStore, now: number): void => {
  const stamp = isoSeconds(now);
  const messages = store.table('sdkmessage');
  const filters = store.table('sdkmessagefilter');
  if (messages === undefined || filters === undefined) return;
  const eventTables = store
    .allTables()
    .map((t) => t.def)
    .filter(
      (def) =>
        !def.intersect &&
        !def.apiReadOnly &&
        !registrationTables().some((r) => r.logicalName === def.logicalName),
    );
  for (const [name, only] of Object.entries(MESSAGES)) {
    const messageId = sdkMessageId(name);
    store.bulkInsert(
      messages,
      messageId,
      {
        sdkmessageid: messageId,
        name,
        categoryname: null,
        isprivate: false,
        createdon: stamp,
        modifiedon: stamp,
      },
      {},
    );
    for (const def of eventTables) {
      if (only !== undefined && !only.includes(def.logicalName)) continue;
      if (name === 'Assign' && def.ownership !== 'user') continue;
      if (name.startsWith('SetState') && def.states === undefined) continue;
      const id = sdkMessageFilterId(name, def.logicalName);
      store.bulkInsert(
        filters,
        id,
        {
          sdkmessagefilterid: id,
          name: null,
          _sdkmessageid_value: messageId,
          primaryobjecttypecode: def.logicalName,
          secondaryobjecttypecode: 'none',
          iscustomprocessingstepallowed: true,
          createdon: stamp,
          modifiedon: stamp,
        },
        { _sdkmessageid_value: 'sdkmessage' },
      );
    }
  }
  store.finishBulk();
};
