import type { EntityProfile } from '../domain/entity.profile';
import { describeError } from '../errors/app.errors';
import { isLookupColumn, lookupField } from '../domain/row.mapper';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface Check {
  id: string;
  status: CheckStatus;
  /** One line: what was found. */
  detail: string;
  /** What to do, when the check did not pass. */
  fix?: string;
}

export interface ValidationReport {
  ok: boolean;
  checks: Check[];
}

export interface TableMetadata {
  schemaName: string;
  changeTracking: boolean;
  /** Column logical name -> attribute type (`String`, `Boolean`, `Lookup`, ...). */
  attributes: ReadonlyMap<string, string>;
}

/** What Validate Sync asks the outside world; one adapter each for Dataverse, Cosmos DB, Service Bus. */
export interface ValidationProbes {
  /** Whether anything answers at the Dataverse URL (an HTTP answer of any status). */
  urlAnswers(): Promise<void>;
  /** A token for the application user, fresh. */
  token(): Promise<void>;
  whoAmI(): Promise<{ userId: string; name: string | null }>;
  /** The privileges (prvReadContact, ...) the user holds through its roles, each at its widest depth. */
  privileges(userId: string): Promise<ReadonlyMap<string, PrivilegeDepth>>;
  /** Undefined when Dataverse has no such table. */
  table(logicalName: string): Promise<TableMetadata | undefined>;
  /** Problems with the Cosmos database and containers; empty when all is as the code needs. */
  cosmos(): Promise<string[]>;
  /** Service Bus: send and receive rights per queue, and whether the queue settings could be read. */
  serviceBus(): Promise<
    { queue: string; send: boolean; receive: boolean | null; settings: string | null }[] | 'not-configured'
  >;
}

/** How far a privilege reaches: the user's own rows, its business unit, and below it, or every row. */
export type PrivilegeDepth = 'Basic' | 'Local' | 'Deep' | 'Global';

export interface ValidationSettings {
  dataverseUrl: string;
  profiles: readonly EntityProfile[];
}

/** The privileges a push and the person actions need beyond reading every synced table. */
const WRITE_PRIVILEGES = [
  ['prvWriteLead', 'write leads (push of marketing edits)'],
  ['prvWriteContact', 'write contacts (push of marketing edits)'],
  ['prvCreateLead', 'create leads (sync person to Dynamics)'],
  ['prvCreateContact', 'create contacts (sync person to Dynamics)'],
  // Tasks are activities: Dataverse grants them through the Activity privileges.
  ['prvCreateActivity', 'create tasks (Create Task)'],
] as const;

/**
 * Validate Sync: every check a deployment needs to sync, each `pass`, `warn` or `fail` with one line
 * of detail and the fix. A check that cannot run because an earlier one failed (no token, no table
 * list) fails with the reason, so the list always shows everything that is wrong.
 */
export async function validateSync(
  probes: ValidationProbes,
  settings: ValidationSettings,
): Promise<ValidationReport> {
  const checks: Check[] = [];
  const add = (check: Check) => checks.push(check);
  const attempt = async (id: string, run: () => Promise<Check>, fix: string): Promise<boolean> => {
    try {
      const check = await run();
      add(check);
      return check.status !== 'fail';
    } catch (error) {
      add({ id, status: 'fail', detail: describeError(error), fix });
      return false;
    }
  };

  const urlOk = await attempt(
    'dataverse-url',
    async () => {
      await probes.urlAnswers();
      return { id: 'dataverse-url', status: 'pass', detail: `${settings.dataverseUrl} answers` };
    },
    `check DATAVERSE_URL (the organisation URL, https://<org>.crm.dynamics.com) and that this network can reach it`,
  );
  const tokenOk = await attempt(
    'token',
    async () => {
      await probes.token();
      return { id: 'token', status: 'pass', detail: 'a token for the application user was issued' };
    },
    'check DATAVERSE_TENANT_ID (the tenant), DATAVERSE_CLIENT_ID (the app registration) and the secret or certificate; the error above names the one Entra ID refused',
  );
  // Without an answering URL every Dataverse check would only wait out the governor's retries.
  const dataverseOk = urlOk && tokenOk;
  let userId: string | undefined;
  if (dataverseOk) {
    await attempt(
      'whoami',
      async () => {
        const me = await probes.whoAmI();
        userId = me.userId;
        return {
          id: 'whoami',
          status: 'pass',
          detail: `signed in as ${me.name ?? 'the application user'} (${me.userId})`,
        };
      },
      'create an application user for the app registration in the Power Platform admin center and give it a security role',
    );
  } else {
    add({
      id: 'whoami',
      status: 'fail',
      detail: urlOk ? 'not checked: no token' : 'not checked: the Dataverse URL does not answer',
      fix: 'fix the checks above first',
    });
  }

  const tables = new Map<string, TableMetadata | undefined>();
  if (userId !== undefined) {
    for (const profile of settings.profiles)
      tables.set(profile.logicalName, await probes.table(profile.logicalName).catch(() => undefined));
    const held = await probes.privileges(userId).catch((error: unknown) => error);
    if (held instanceof Map) {
      add(
        privilegesCheck(
          settings.profiles.map((p) => p.logicalName),
          tables,
          held as Map<string, PrivilegeDepth>,
        ),
      );
    } else {
      add({
        id: 'privileges',
        status: 'warn',
        detail: `privileges could not be read: ${describeError(held)}`,
        fix: 'grant the role prvReadUser to list its own privileges',
      });
    }
  } else {
    add({
      id: 'privileges',
      status: 'fail',
      detail: 'not checked: no application user',
      fix: 'fix the checks above first',
    });
  }

  for (const profile of settings.profiles) {
    const id = `table:${profile.logicalName}`;
    if (userId === undefined) {
      add({
        id,
        status: 'fail',
        detail: 'not checked: no application user',
        fix: 'fix the checks above first',
      });
      continue;
    }
    const table = tables.get(profile.logicalName);
    if (table === undefined) {
      add({
        id,
        status: 'fail',
        detail: `Dataverse has no table ${profile.logicalName}`,
        fix: 'remove it from SYNC_ENTITIES or SYNC_CONFIG, or create it',
      });
      continue;
    }
    const problems: string[] = [];
    const fixes: string[] = [];
    if (!table.changeTracking) {
      problems.push('change tracking is off');
      fixes.push(
        `turn on Track changes for ${table.schemaName} (Tables > ${table.schemaName} > Properties > Advanced options)`,
      );
    }
    const missingColumns = profile.select
      .map((column) => (isLookupColumn(column) ? lookupField(column) : column))
      .filter((column) => !table.attributes.has(column));
    if (missingColumns.length > 0) {
      problems.push(`columns missing: ${missingColumns.join(', ')}`);
      fixes.push('remove them from SYNC_CONFIG or restore them in Dynamics');
    }
    // Only tables the sync filter applies to (their profile has the column) need it.
    const filter = profile.filterColumn;
    if (filter !== undefined && table.attributes.has(filter) && table.attributes.get(filter) !== 'Boolean') {
      problems.push(`the sync filter column ${filter} is ${table.attributes.get(filter)}, not Yes/No`);
      fixes.push(`make ${filter} a Yes/No column or name another in SYNC_CONFIG`);
    }
    add(
      problems.length === 0
        ? {
            id,
            status: filter !== undefined && !table.attributes.has(filter) ? 'warn' : 'pass',
            detail:
              filter !== undefined && !table.attributes.has(filter)
                ? `change tracking on, every column present; no sync filter column ${filter}: every row syncs`
                : 'change tracking on, every column present',
          }
        : { id, status: 'fail', detail: problems.join('; '), fix: fixes.join('; ') },
    );
  }

  await attempt(
    'cosmos',
    async () => {
      const problems = await probes.cosmos();
      return problems.length === 0
        ? {
            id: 'cosmos',
            status: 'pass',
            detail: 'the database and every container exist with the partition keys the code needs',
          }
        : {
            id: 'cosmos',
            status: 'fail',
            detail: problems.join('; '),
            fix: 'run `dynamics-sync provision` (locally) or `azd provision` (Azure)',
          };
    },
    'check COSMOS_ENDPOINT and that the identity has the Cosmos DB Built-in Data Contributor role',
  );

  await attempt(
    'servicebus',
    async () => {
      const queues = await probes.serviceBus();
      if (queues === 'not-configured') {
        return {
          id: 'servicebus',
          status: 'warn',
          detail: 'no Service Bus configured: only the Functions app needs it (the CLI runs in-process)',
        };
      }
      const denied = queues.flatMap((q) => [
        ...(q.send ? [] : [`send to ${q.queue}`]),
        ...(q.receive === false ? [`receive from ${q.queue}`] : []),
      ]);
      if (denied.length > 0) {
        return {
          id: 'servicebus',
          status: 'fail',
          detail: `the identity cannot ${denied.join(', ')}`,
          fix: 'give the app identity Azure Service Bus Data Sender and Data Receiver on the namespace',
        };
      }
      const unread = queues.filter((q) => q.settings !== null);
      return unread.length > 0
        ? {
            id: 'servicebus',
            status: 'warn',
            detail: `sends and receives; queue settings not readable (${unread.map((q) => `${q.queue}: ${q.settings}`).join('; ')})`,
            fix: 'reading queue settings needs management rights the app does not have; the infrastructure tests check them',
          }
        : { id: 'servicebus', status: 'pass', detail: 'sends and receives on every queue' };
    },
    "check SERVICEBUS__fullyQualifiedNamespace (or SERVICEBUS locally) and the identity's Service Bus roles",
  );

  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}

/**
 * Every synced table readable and leads, contacts and tasks writable; a privilege held below
 * organisation depth is a warning, since the sync then sees or writes only the rows of the user's own
 * business unit (or its own rows) and the others are silently left out.
 */
/** Intersect tables have no privileges of their own: reading list members takes reading lists. */
const PRIVILEGES_OF: Readonly<Record<string, string>> = { listmember: 'List' };

export function privilegesCheck(
  entities: readonly string[],
  tables: ReadonlyMap<string, TableMetadata | undefined>,
  held: ReadonlyMap<string, PrivilegeDepth>,
): Check {
  const needed: (readonly [string, string])[] = [];
  for (const entity of entities) {
    const schema = PRIVILEGES_OF[entity] ?? tables.get(entity)?.schemaName;
    if (schema !== undefined) needed.push([`prvRead${schema}`, `read ${entity}`]);
  }
  needed.push(...WRITE_PRIVILEGES);
  const missing = needed.filter(([privilege]) => !held.has(privilege));
  if (missing.length > 0) {
    return {
      id: 'privileges',
      status: 'fail',
      detail: `the application user cannot: ${missing.map(([p, what]) => `${what} (${p})`).join('; ')}`,
      fix: 'add these privileges (organisation level) to the security role of the application user',
    };
  }
  const narrow = needed.filter(([privilege]) => held.get(privilege) !== 'Global');
  if (narrow.length > 0) {
    return {
      id: 'privileges',
      status: 'warn',
      detail: `held below organisation level, so rows outside the user's reach are left out: ${narrow
        .map(([p, what]) => `${what} (${p}: ${held.get(p)})`)
        .join('; ')}`,
      fix: 'set these privileges to Organization in the security role of the application user, unless the sync is meant to see only part of the data',
    };
  }
  return {
    id: 'privileges',
    status: 'pass',
    detail: 'reads every synced table; writes leads and contacts; creates tasks; all at organisation level',
  };
}
