import {
  block,
  loadTerraform,
  parseTerraform,
  type HclBody,
  type TerraformModel,
} from './infra-terraform.helpers';
import {
  AZURERM_SCHEMA_VERSION,
  checkAgainstSchema,
  loadAzurermSchema,
  type ProviderSchemaSubset,
} from './infra-schema.helpers';

/**
 * Resource and data types of infra/*.tf that belong to a provider other than azurerm. Only the
 * azurerm schema is vendored, so these are not checked; the list must be exactly what infra uses,
 * so adding a type of another provider fails here until someone decides how to check it.
 */
const UNCHECKED_TYPES: string[] = [];

let model: TerraformModel;
let schema: ProviderSchemaSubset;

beforeAll(async () => {
  model = await loadTerraform();
  schema = loadAzurermSchema();
});

const typesOf = (list: { type: string }[]) => [...new Set(list.map((b) => b.type))].sort();

describe('the vendored azurerm schema', () => {
  it('is the 4.79.0 provider schema, extracted by the script in infra/schema', () => {
    expect(schema.version).toBe(AZURERM_SCHEMA_VERSION);
    expect(schema.provider).toBe('registry.terraform.io/hashicorp/azurerm');
    expect(schema.source).toContain('infra/schema/extract-schema.mjs');
  });

  it('is a version the azurerm constraint in versions.tf admits', () => {
    const required = block(model.terraform[0] ?? {}, 'required_providers');
    const constraint = String((required.azurerm as HclBody).version);
    // `~> X.Y`: at least X.Y, below X+1.0.
    const pessimistic = /^~>\s*(\d+)\.(\d+)$/.exec(constraint);
    if (!pessimistic)
      throw new Error(`versions.tf: azurerm version "${constraint}" is not of the form ~> X.Y`);
    const [major, minor] = AZURERM_SCHEMA_VERSION.split('.').map(Number) as [number, number];
    expect(major).toBe(Number(pessimistic[1]));
    expect(minor).toBeGreaterThanOrEqual(Number(pessimistic[2]));
  });

  it('holds exactly the azurerm types infra uses (re-run extract-schema.mjs when that changes)', () => {
    const azurerm = (types: string[]) => types.filter((t) => t.startsWith('azurerm_'));
    expect(Object.keys(schema.resource_schemas).sort()).toEqual(azurerm(typesOf(model.resources)));
    expect(Object.keys(schema.data_source_schemas).sort()).toEqual(azurerm(typesOf(model.data)));
  });

  it('azurerm is the only provider infra declares; other providers’ types are listed as unchecked', () => {
    const required = block(model.terraform[0] ?? {}, 'required_providers');
    expect(Object.keys(required).sort()).toEqual(['azurerm']);
    const others = typesOf([...model.resources, ...model.data]).filter((t) => !t.startsWith('azurerm_'));
    expect(others).toEqual([...UNCHECKED_TYPES].sort());
  });
});

describe('every resource and data block of infra/*.tf matches the azurerm schema', () => {
  it('has no unknown or computed-only argument, no missing required one, and blocks within their limits', () => {
    const { problems, skipped } = checkAgainstSchema(model, schema);
    expect(problems).toEqual([]);
    const skippedTypes = [...new Set(skipped.map((address) => address.replace(/^data\./, '').split('.')[0]))];
    expect(skippedTypes.sort()).toEqual([...UNCHECKED_TYPES].sort());
  });
});

/** The check run on a snippet, as if it were a file of infra/. */
async function problemsOf(hcl: string) {
  return checkAgainstSchema(await parseTerraform({ 'synthetic.tf': hcl }), schema);
}

describe('the check reports what is wrong (synthetic snippets)', () => {
  it('an unknown argument, top-level and nested', async () => {
    const { problems } = await problemsOf(`
      resource "azurerm_resource_group" "rg" {
        name     = "rg"
        location = "westeurope"
        colour   = "blue"
      }
      resource "azurerm_cosmosdb_sql_database" "db" {
        name                = "db"
        resource_group_name = "rg"
        account_name        = "acc"
        autoscale_settings {
          max_throughput = 1000
          min_throughput = 100
        }
      }
    `);
    expect(problems).toEqual([
      'synthetic.tf: azurerm_cosmosdb_sql_database.db: autoscale_settings[0].min_throughput: unknown argument (not in the azurerm 4.79.0 schema)',
      'synthetic.tf: azurerm_resource_group.rg: colour: unknown argument (not in the azurerm 4.79.0 schema)',
    ]);
  });

  it('the argument the Flex Consumption app does not have in 4.79.0', async () => {
    const { problems } = await problemsOf(`
      resource "azurerm_function_app_flex_consumption" "app" {
        name                            = "app"
        resource_group_name             = "rg"
        location                        = "westeurope"
        service_plan_id                 = "plan"
        runtime_name                    = "node"
        runtime_version                 = "22"
        storage_container_type          = "blobContainer"
        storage_container_endpoint      = "https://st.blob.core.windows.net/pkg"
        storage_authentication_type     = "SystemAssignedIdentity"
        key_vault_reference_identity_id = "id"
        site_config {}
      }
    `);
    expect(problems).toEqual([
      'synthetic.tf: azurerm_function_app_flex_consumption.app: key_vault_reference_identity_id: unknown argument (not in the azurerm 4.79.0 schema)',
    ]);
  });

  it('a missing required argument, top-level and nested', async () => {
    const { problems } = await problemsOf(`
      resource "azurerm_resource_group" "rg" {
        name = "rg"
      }
      resource "azurerm_monitor_action_group" "ops" {
        name                = "ag"
        resource_group_name = "rg"
        short_name          = "ops"
        email_receiver {
          name = "operator"
        }
      }
    `);
    expect(problems).toEqual([
      'synthetic.tf: azurerm_monitor_action_group.ops: email_receiver[0].email_address: required argument is missing',
      'synthetic.tf: azurerm_resource_group.rg: location: required argument is missing',
    ]);
  });

  it('a computed-only attribute set, top-level and nested', async () => {
    const { problems } = await problemsOf(`
      resource "azurerm_user_assigned_identity" "id" {
        name                = "id"
        resource_group_name = "rg"
        location            = "westeurope"
        principal_id        = "00000000-0000-0000-0000-000000000000"
      }
      resource "azurerm_log_analytics_workspace" "log" {
        name                = "log"
        resource_group_name = "rg"
        location            = "westeurope"
        identity {
          type      = "SystemAssigned"
          tenant_id = "t"
        }
      }
    `);
    expect(problems).toEqual([
      'synthetic.tf: azurerm_log_analytics_workspace.log: identity[0].tenant_id: computed-only attribute: the provider sets it, it cannot be set',
      'synthetic.tf: azurerm_user_assigned_identity.id: principal_id: computed-only attribute: the provider sets it, it cannot be set',
    ]);
  });

  it('too many blocks, too few, an unknown one, and a dynamic block of an unknown name', async () => {
    const { problems } = await problemsOf(`
      resource "azurerm_cosmosdb_account" "acc" {
        name                = "acc"
        resource_group_name = "rg"
        location            = "westeurope"
        offer_type          = "Standard"
        consistency_policy {
          consistency_level = "Session"
        }
        consistency_policy {
          consistency_level = "Strong"
        }
        backup {
          type = "Continuous"
        }
        dynamic "colours" {
          for_each = ["blue"]
          content {
            name = colours.value
          }
        }
      }
      resource "azurerm_monitor_scheduled_query_rules_alert_v2" "rule" {
        name                 = "rule"
        resource_group_name  = "rg"
        location             = "westeurope"
        scopes               = ["x"]
        severity             = 1
        evaluation_frequency = "PT5M"
        window_duration      = "PT5M"
        condition {
          query = "x"
        }
      }
    `);
    expect(problems).toEqual([
      'synthetic.tf: azurerm_cosmosdb_account.acc: dynamic "colours": unknown block (not in the azurerm 4.79.0 schema)',
      'synthetic.tf: azurerm_cosmosdb_account.acc: consistency_policy: 2 blocks, at most 1 allowed',
      'synthetic.tf: azurerm_cosmosdb_account.acc: geo_location: 0 blocks, at least 1 required',
      'synthetic.tf: azurerm_monitor_scheduled_query_rules_alert_v2.rule: condition: unknown argument (not in the azurerm 4.79.0 schema)',
      'synthetic.tf: azurerm_monitor_scheduled_query_rules_alert_v2.rule: criteria: 0 blocks, at least 1 required',
    ]);
  });

  it('an unknown type, and an unknown argument of a data source', async () => {
    const { problems } = await problemsOf(`
      resource "azurerm_function_app" "legacy" {
        name = "app"
      }
      data "azurerm_client_config" "current" {
        tenant = "t"
      }
    `);
    expect(problems).toEqual([
      'synthetic.tf: azurerm_function_app.legacy: resource type azurerm_function_app is not in the vendored azurerm 4.79.0 schema (infra/schema/extract-schema.mjs extracts it)',
      'synthetic.tf: data.azurerm_client_config.current: tenant: unknown argument (not in the azurerm 4.79.0 schema)',
    ]);
  });

  it('the contents of a dynamic block are checked like a static block', async () => {
    const { problems } = await problemsOf(`
      resource "azurerm_monitor_action_group" "ops" {
        name                = "ag"
        resource_group_name = "rg"
        short_name          = "ops"
        dynamic "email_receiver" {
          for_each = var.emails
          content {
            name    = "operator"
            address = email_receiver.value
          }
        }
      }
    `);
    expect(problems).toEqual([
      'synthetic.tf: azurerm_monitor_action_group.ops: dynamic "email_receiver"[0].content.address: unknown argument (not in the azurerm 4.79.0 schema)',
      'synthetic.tf: azurerm_monitor_action_group.ops: dynamic "email_receiver"[0].content.email_address: required argument is missing',
    ]);
  });

  it('accepts meta-arguments and dynamic blocks, and skips other providers’ types', async () => {
    const { problems, skipped } = await problemsOf(`
      resource "azurerm_resource_group" "rg" {
        for_each   = toset(["a", "b"])
        name       = each.key
        location   = "westeurope"
        provider   = azurerm.other
        depends_on = [random_string.suffix]
        lifecycle {
          ignore_changes = [tags]
        }
      }
      resource "azurerm_cosmosdb_account" "acc" {
        count               = 1
        name                = "acc"
        resource_group_name = "rg"
        location            = "westeurope"
        offer_type          = "Standard"
        consistency_policy {
          consistency_level = "Session"
        }
        dynamic "geo_location" {
          for_each = ["westeurope"]
          content {
            location          = geo_location.value
            failover_priority = 0
          }
        }
      }
      resource "random_string" "suffix" {
        length = 6
      }
      data "azurerm_client_config" "current" {
        depends_on = [azurerm_resource_group.rg]
      }
    `);
    expect(problems).toEqual([]);
    expect(skipped).toEqual(['random_string.suffix']);
  });
});
