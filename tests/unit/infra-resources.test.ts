import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import { loadEnv } from '../../shared/config/env.schema';
import { METRIC_NAMES } from '../../shared/telemetry/sync-metrics';
import { LOCAL_QUEUES } from '../../local/local-queues';
import {
  block,
  blocks,
  forEachValues,
  instancesOf,
  isoDurationMs,
  loadTerraform,
  referencedVariables,
  resolve,
  resolveString,
  resource,
  resourcesOf,
  type HclBody,
  type TerraformModel,
} from './infra-terraform.helpers';

const UAMI_ID = '${azurerm_user_assigned_identity.app.id}';
const UAMI_PRINCIPAL = '${azurerm_user_assigned_identity.app.principal_id}';
const APP_SYSTEM_PRINCIPAL = '${azurerm_function_app_flex_consumption.main.identity[0].principal_id}';

let model: TerraformModel;

const principalOf = (body: HclBody) => resolve(model, body.principal_id);

beforeAll(async () => {
  model = await loadTerraform();
});

describe('providers and azd', () => {
  it('pins azurerm 4.x and makes it use Entra ID for storage', () => {
    const required = block(model.terraform[0] ?? {}, 'required_providers');
    const azurerm = required.azurerm as HclBody;
    expect(azurerm.source).toBe('hashicorp/azurerm');
    expect(String(azurerm.version)).toMatch(/^~> 4\.\d+$/);
    expect(model.providers.azurerm?.storage_use_azuread).toBe(true);
  });

  it('azure.yaml provisions infra/ with Terraform and deploys to the tagged Function App', async () => {
    const yaml = await readFile(path.resolve(model.dir, '../azure.yaml'), 'utf8');
    expect(yaml).toMatch(/^infra:\n {2}provider: terraform\n {2}path: infra$/m);
    const service = /^services:\n {2}([a-z0-9-]+):\n((?: {4}.+\n?)+)/m.exec(yaml);
    expect(service?.[2]).toMatch(/host: function/);
    const app = resource(model, 'azurerm_function_app_flex_consumption');
    expect(String(app.body.tags)).toContain(`"azd-service-name" = "${service?.[1]}"`);
  });

  it('every referenced variable is declared, every declared one is used, azd supplies the required ones', async () => {
    const referenced = referencedVariables(model);
    const declared = new Set(Object.keys(model.variables));
    expect([...referenced].filter((name) => !declared.has(name))).toEqual([]);
    expect([...declared].filter((name) => !referenced.has(name))).toEqual([]);
    const tfvars = JSON.parse(await readFile(path.join(model.dir, 'main.tfvars.json'), 'utf8')) as object;
    const required = Object.entries(model.variables)
      .filter(([, body]) => !('default' in body))
      .map(([name]) => name);
    for (const name of required) expect(Object.keys(tfvars)).toContain(name);
    for (const name of Object.keys(tfvars)) expect(declared).toContain(name);
  });
});

describe('Function App on Flex Consumption', () => {
  it('runs Node 22 on a Linux FC1 plan', () => {
    const plan = resource(model, 'azurerm_service_plan');
    expect(plan.body.sku_name).toBe('FC1');
    expect(plan.body.os_type).toBe('Linux');
    const app = resource(model, 'azurerm_function_app_flex_consumption');
    expect(app.body.service_plan_id).toBe(`\${${plan.address}.id}`);
    expect(app.body.runtime_name).toBe('node');
    expect(app.body.runtime_version).toBe('22');
    expect(app.body.https_only).toBe(true);
    expect(app.body.webdeploy_publish_basic_authentication_enabled).toBe(false);
  });

  it('runs as the user-assigned identity, for the deployment package too', () => {
    const app = resource(model, 'azurerm_function_app_flex_consumption');
    const identity = block(app.body, 'identity');
    expect(identity.identity_ids).toEqual([UAMI_ID]);
    expect(app.body.storage_authentication_type).toBe('UserAssignedIdentity');
    expect(app.body.storage_user_assigned_identity_id).toBe(UAMI_ID);
    expect(app.body).not.toHaveProperty('storage_access_key');
    expect(app.body).not.toHaveProperty('function_app_storage_account_access_key');
  });

  it('resolves Key Vault references with its system-assigned identity, the only grant that identity has', () => {
    // keyVaultReferenceIdentity cannot be set through azurerm on Flex Consumption, and App Service
    // then resolves references with the system-assigned identity (infra/README.md).
    const app = resource(model, 'azurerm_function_app_flex_consumption');
    expect(block(app.body, 'identity').type).toBe('SystemAssigned, UserAssigned');
    expect(app.body).not.toHaveProperty('key_vault_reference_identity_id');
    const systemGrants = resourcesOf(model, 'azurerm_role_assignment').filter(
      (r) => r.body.principal_id === APP_SYSTEM_PRINCIPAL,
    );
    expect(
      systemGrants.map((r) => `${String(r.body.role_definition_name)} @ ${String(r.body.scope)}`),
    ).toEqual(['Key Vault Secrets User @ ${azurerm_key_vault.main.id}']);
  });

  it('waits for its role assignments before starting', () => {
    const app = resource(model, 'azurerm_function_app_flex_consumption');
    const dependsOn = (app.body.depends_on as string[]).map((d) => d.replace(/^\$\{|\}$/g, ''));
    const grants = [
      ...instancesOf(model, 'azurerm_role_assignment').filter((i) => principalOf(i.body) === UAMI_PRINCIPAL),
      ...instancesOf(model, 'azurerm_cosmosdb_sql_role_assignment'),
    ];
    expect(grants).toHaveLength(7);
    for (const grant of grants) expect(dependsOn).toContain(grant.resource.address);
  });
});

describe('local authentication is off everywhere', () => {
  it('storage has shared keys disabled and defaults to OAuth', () => {
    const storage = resource(model, 'azurerm_storage_account');
    expect(storage.body.shared_access_key_enabled).toBe(false);
    expect(storage.body.default_to_oauth_authentication).toBe(true);
    expect(storage.body.allow_nested_items_to_be_public).toBe(false);
  });

  it('Service Bus, Cosmos DB and Application Insights accept Entra ID only', () => {
    expect(resource(model, 'azurerm_servicebus_namespace').body.local_auth_enabled).toBe(false);
    const cosmos = resource(model, 'azurerm_cosmosdb_account').body;
    expect(cosmos.local_authentication_disabled).toBe(true);
    expect(cosmos.access_key_metadata_writes_enabled).toBe(false);
    expect(resource(model, 'azurerm_application_insights').body.local_authentication_disabled).toBe(true);
  });

  it('Key Vault uses Azure RBAC, not access policies', () => {
    const vault = resource(model, 'azurerm_key_vault').body;
    expect(vault.rbac_authorization_enabled).toBe(true);
    expect(vault).not.toHaveProperty('access_policy');
    expect(resourcesOf(model, 'azurerm_key_vault_access_policy')).toEqual([]);
  });
});

describe('Service Bus queues match the local stack', () => {
  it('the namespace is Standard (sessions and duplicate detection need it)', () => {
    expect(resource(model, 'azurerm_servicebus_namespace').body.sku).toBe('Standard');
  });

  it('there is exactly one queue per local queue', () => {
    const names = resourcesOf(model, 'azurerm_servicebus_queue').map((q) => q.body.name);
    expect(names.sort()).toEqual(LOCAL_QUEUES.map((q) => q.name).sort());
  });

  it.each(LOCAL_QUEUES.map((q) => [q.name, q] as const))(
    '%s has the same settings as locally',
    (name, local) => {
      const queue = resourcesOf(model, 'azurerm_servicebus_queue').find((q) => q.body.name === name);
      if (queue === undefined) throw new Error(`no queue ${name}`);
      const body = resolve(model, queue.body) as HclBody;
      expect(Boolean(body.requires_session)).toBe(local.requiresSession);
      expect(body.max_delivery_count).toBe(local.maxDeliveryCount);
      expect(isoDurationMs(String(body.lock_duration))).toBe(local.lockDurationMs);
      expect(body.dead_lettering_on_message_expiration).toBe(true);
      if ('duplicateDetectionWindowMs' in local) {
        expect(body.requires_duplicate_detection).toBe(true);
        expect(isoDurationMs(String(body.duplicate_detection_history_time_window))).toBe(
          local.duplicateDetectionWindowMs,
        );
      } else {
        expect(body.requires_duplicate_detection ?? false).toBe(false);
      }
    },
  );

  it('the pull-jobs duplicate window covers at least one scheduler slot', () => {
    const schedule = resolveString(model, '${var.sync_schedule}');
    const cron = CronExpressionParser.parse(schedule, {
      currentDate: new Date('2025-01-01T00:00:00Z'),
      tz: 'UTC',
    });
    const first = cron.next().getTime();
    const slotMs = cron.next().getTime() - first;
    const queue = resource(model, 'azurerm_servicebus_queue', 'pull_jobs');
    const window = isoDurationMs(resolveString(model, queue.body.duplicate_detection_history_time_window));
    expect(window).toBeGreaterThanOrEqual(slotMs);
  });

  it('the queue names are the defaults the code falls back to', () => {
    const env = loadEnv({ SERVICEBUS__fullyQualifiedNamespace: 'x.servicebus.windows.net' }, ['serviceBus']);
    expect(resource(model, 'azurerm_servicebus_queue', 'pull_jobs').body.name).toBe(env.PULL_JOBS_QUEUE);
    expect(resource(model, 'azurerm_servicebus_queue', 'push_retry').body.name).toBe(env.PUSH_RETRY_QUEUE);
  });
});

describe('Cosmos DB containers match what the code uses', () => {
  const containers = () => {
    const resolved = resolve(model, '${local.cosmos_containers}') as Record<string, HclBody>;
    return Object.entries(resolved).map(([key, c]) => ({
      key,
      id: c.id,
      partitionKey: c.partition_key,
      defaultTtl: c.default_ttl ?? undefined,
      index: c.index as HclBody,
    }));
  };

  it('creates exactly the CONTAINERS, with the same partition keys and TTL settings', () => {
    const expected = Object.entries(CONTAINERS)
      .map(([key, c]) => ({
        key,
        id: c.id,
        partitionKey: c.partitionKey,
        defaultTtl: 'defaultTtl' in c ? c.defaultTtl : undefined,
      }))
      .sort((a, b) => a.key.localeCompare(b.key));
    const actual = containers()
      .map(({ key, id, partitionKey, defaultTtl }) => ({ key, id, partitionKey, defaultTtl }))
      .sort((a, b) => a.key.localeCompare(b.key));
    expect(actual).toEqual(expected);
  });

  it('one container resource per entry, keyed by its partition key path', () => {
    const container = resource(model, 'azurerm_cosmosdb_sql_container');
    expect(container.body.for_each).toBe('${local.cosmos_containers}');
    expect(container.body.name).toBe('${each.value.id}');
    expect(container.body.partition_key_paths).toEqual(['${each.value.partition_key}']);
    expect(forEachValues(model, container.body)).toHaveLength(Object.keys(CONTAINERS).length);
  });

  it('the database is the one the code defaults to', () => {
    const env = loadEnv({ COSMOS_ENDPOINT: 'https://x.documents.azure.com' }, ['cosmos']);
    expect(resolveString(model, resource(model, 'azurerm_cosmosdb_sql_database').body.name)).toBe(
      env.COSMOS_DATABASE,
    );
  });

  it('people indexes what lookups and the change poller filter and sort on, and little else', () => {
    const people = containers().find((c) => c.id === CONTAINERS.people.id);
    const included = people?.index.included_paths as string[];
    for (const needed of ['/email/?', '/entity/?', '/dynamics/leadId/?', '/dynamics/contactId/?', '/_ts/?']) {
      expect(included).toContain(needed);
    }
    expect(people?.index.excluded_paths).toEqual(['/*']);
  });

  it('capacity is serverless or autoscale by a variable', () => {
    const validation = block(model.variables.cosmos_capacity_mode ?? {}, 'validation');
    expect(String(validation.condition)).toContain('"serverless", "autoscale"');
    const account = resource(model, 'azurerm_cosmosdb_account').body;
    const capabilities = (account.dynamic as HclBody).capabilities as HclBody[];
    expect(String(capabilities[0]?.for_each)).toContain('EnableServerless');
    const database = resource(model, 'azurerm_cosmosdb_sql_database').body;
    expect((database.dynamic as HclBody).autoscale_settings).toBeDefined();
  });
});

describe('roles: the user-assigned identity gets exactly what it needs', () => {
  const grants = () =>
    instancesOf(model, 'azurerm_role_assignment')
      .filter((i) => principalOf(i.body) === UAMI_PRINCIPAL)
      .map((i) => `${String(i.body.role_definition_name)} @ ${String(i.body.scope)}`);

  it('has the data roles on the right scopes', () => {
    expect(grants().sort()).toEqual(
      [
        'Storage Blob Data Owner @ ${azurerm_storage_account.host.id}',
        'Storage Queue Data Contributor @ ${azurerm_storage_account.host.id}',
        'Storage Table Data Contributor @ ${azurerm_storage_account.host.id}',
        'Azure Service Bus Data Sender @ ${azurerm_servicebus_namespace.main.id}',
        'Azure Service Bus Data Receiver @ ${azurerm_servicebus_namespace.main.id}',
        'Monitoring Metrics Publisher @ ${azurerm_application_insights.main.id}',
      ].sort(),
    );
  });

  it('every role assignment goes to the app identity, except Key Vault references and the deployer writing the secret', () => {
    const others = resourcesOf(model, 'azurerm_role_assignment')
      .filter((r) => principalOf(r.body) !== UAMI_PRINCIPAL)
      .map((r) => `${r.name}: ${String(r.body.role_definition_name)} for ${String(r.body.principal_id)}`);
    expect(others.sort()).toEqual([
      'app_key_vault_reference_secrets_user: Key Vault Secrets User for ' + APP_SYSTEM_PRINCIPAL,
      'deployer_kv_secrets_officer: Key Vault Secrets Officer for ${var.principal_id}',
    ]);
  });

  it('has the Cosmos DB built-in data contributor SQL role on the marketing database', () => {
    const assignment = resource(model, 'azurerm_cosmosdb_sql_role_assignment');
    expect(principalOf(assignment.body)).toBe(UAMI_PRINCIPAL);
    expect(resolveString(model, assignment.body.role_definition_id)).toBe(
      '${azurerm_cosmosdb_account.main.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002',
    );
    expect(assignment.body.scope).toBe(
      '${azurerm_cosmosdb_account.main.id}/dbs/${azurerm_cosmosdb_sql_database.main.name}',
    );
  });

  it('grants no broad control-plane or owner role', () => {
    const all = instancesOf(model, 'azurerm_role_assignment').map((i) => i.body.role_definition_name);
    for (const role of ['Owner', 'Contributor', 'Azure Service Bus Data Owner', 'Key Vault Administrator']) {
      expect(all).not.toContain(role);
    }
  });
});

describe('Key Vault holds the Dataverse secret', () => {
  it('writes the secret only when given, into the vault the app setting references', () => {
    const secret = resource(model, 'azurerm_key_vault_secret', 'dataverse_client_secret');
    expect(secret.body.key_vault_id).toBe('${azurerm_key_vault.main.id}');
    expect(secret.body.value).toBe('${var.dataverse_client_secret}');
    expect(resolveString(model, secret.body.name)).toBe(
      resolveString(model, '${local.dataverse_secret_name}'),
    );
    expect(String(secret.body.count)).toContain('var.dataverse_client_secret == ""');
  });

  it('holds the notification secret the same way, referenced by NOTIFY_SECRET', () => {
    const secret = resource(model, 'azurerm_key_vault_secret', 'notify_secret');
    expect(secret.body.key_vault_id).toBe('${azurerm_key_vault.main.id}');
    expect(secret.body.value).toBe('${var.notify_secret}');
    expect(String(secret.body.count)).toContain('var.notify_secret == ""');
    const settings = resolve(
      model,
      resource(model, 'azurerm_function_app_flex_consumption').body.app_settings,
    );
    const uri = resolveString(model, '${local.notify_secret_uri}');
    expect(resolveString(model, (settings as Record<string, string>).NOTIFY_SECRET)).toBe(
      `@Microsoft.KeyVault(SecretUri=${uri})`,
    );
    expect(uri).toContain(resolveString(model, secret.body.name));
  });
});

describe('App Service authentication and the webhook', () => {
  it('excludes only the notify path, which checks its own secret, and outputs its URL', () => {
    const auth = block(resource(model, 'azurerm_function_app_flex_consumption').body, 'auth_settings_v2');
    expect(auth).toMatchObject({ require_authentication: true, excluded_paths: ['/api/notify'] });
    const output = model.outputs.NOTIFY_URL;
    expect(String(output?.value)).toMatch(
      /^https:\/\/\$\{azurerm_function_app_flex_consumption\.main\.default_hostname\}\/api\/notify$/,
    );
  });
});

describe('alerts', () => {
  const actionGroup = '${azurerm_monitor_action_group.ops.id}';

  // One instance per rule, each.value filled in: the rules are for_each resources over local maps.
  const queryRules = () => instancesOf(model, 'azurerm_monitor_scheduled_query_rules_alert_v2');
  const queryOf = (body: HclBody) => String(block(body, 'criteria').query);
  const metricAlerts = () => instancesOf(model, 'azurerm_monitor_metric_alert');

  it('an action group mails the address from a variable', () => {
    const group = resource(model, 'azurerm_monitor_action_group').body;
    const email = (group.dynamic as HclBody).email_receiver as HclBody[];
    expect(String(email[0]?.for_each)).toContain('var.alert_email');
  });

  it('dead-lettered messages above zero on the queues', () => {
    const alert = metricAlerts().find(
      (a) => block(a.body, 'criteria').metric_name === 'DeadletteredMessages',
    );
    expect(alert).toBeDefined();
    const criteria = block(alert?.body ?? {}, 'criteria');
    expect(alert?.body.scopes).toEqual(['${azurerm_servicebus_namespace.main.id}']);
    expect(criteria.operator).toBe('GreaterThan');
    expect(criteria.threshold).toBe(0);
  });

  it('failed function executions', () => {
    const alert = metricAlerts().find((a) => block(a.body, 'criteria').metric_name === 'requests/failed');
    expect(alert?.body.scopes).toEqual(['${azurerm_application_insights.main.id}']);
  });

  it('sync lag above the threshold variable, per entity', () => {
    const rule = queryRules().find((r) => queryOf(r.body).includes(`"${METRIC_NAMES.lagSeconds}"`));
    const criteria = block(rule?.body ?? {}, 'criteria');
    expect(criteria.threshold).toBe('${var.sync_lag_threshold_seconds}');
    expect(block(criteria, 'dimension').name).toBe('entity');
  });

  it('sustained 429s from Dynamics: several failing windows in a row', () => {
    const rule = queryRules().find((r) => queryOf(r.body).includes(`"${METRIC_NAMES.dataverseThrottled}"`));
    const periods = block(block(rule?.body ?? {}, 'criteria'), 'failing_periods');
    expect(Number(periods.minimum_failing_periods_to_trigger_alert)).toBeGreaterThanOrEqual(2);
    expect(periods.minimum_failing_periods_to_trigger_alert).toBe(periods.number_of_evaluation_periods);
  });

  it('queries name only metrics the app emits', () => {
    const emitted = new Set<string>(Object.values(METRIC_NAMES));
    for (const rule of queryRules()) {
      const query = queryOf(rule.body);
      const names = [...query.matchAll(/name\s*(?:==|in)\s*\(?([^)|\n]+)\)?/g)].flatMap((m) =>
        [...(m[1] ?? '').matchAll(/"([^"]+)"/g)].map((n) => n[1] as string),
      );
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(emitted).toContain(name);
    }
  });

  it('every alert notifies the action group', () => {
    for (const alert of metricAlerts()) expect(block(alert.body, 'action').action_group_id).toBe(actionGroup);
    for (const rule of queryRules()) expect(block(rule.body, 'action').action_groups).toEqual([actionGroup]);
    expect(metricAlerts().length + queryRules().length).toBeGreaterThanOrEqual(4);
  });

  it('the rules keep the names the README documents (dms-<env>-<what>)', () => {
    const names = [...metricAlerts(), ...queryRules()].map((a) => resolveString(model, a.body.name));
    expect(names.sort()).toEqual(
      ['dead-letters', 'function-failures', 'sync-lag', 'sync-stalled', 'dataverse-throttled', 'verify-drift']
        .map((what) => `dms-\${var.environment_name}-${what}`)
        .sort(),
    );
  });

  it('every alert block lists its failing periods or window explicitly', () => {
    for (const rule of queryRules())
      expect(blocks(block(rule.body, 'criteria'), 'failing_periods')).toHaveLength(1);
  });
});
