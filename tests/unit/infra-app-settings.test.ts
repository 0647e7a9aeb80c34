import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { SETTING_NAMES, type SettingName } from '../../shared/config/env.schema';
import { TELEMETRY_SETTING_NAMES } from '../../shared/telemetry/telemetry.settings';
import {
  block,
  loadTerraform,
  resolve,
  resolveString,
  resource,
  type HclValue,
  type TerraformModel,
} from './infra-terraform.helpers';

/**
 * Settings the code reads that Azure deliberately does not set. Each needs a reason; a name listed
 * here must also be absent from the app settings, so the list cannot hide a real setting.
 */
const NOT_SET_IN_AZURE: Partial<Record<SettingName, string>> = {
  COSMOS_KEY: 'account key for the local stand-in only; Azure uses the managed identity (local auth is off)',
  SERVICEBUS: 'connection string for the local broker only; Azure uses SERVICEBUS__fullyQualifiedNamespace',
  COSMOS:
    'connection string of the Cosmos DB trigger for the local stand-in only; Azure uses COSMOS__accountEndpoint',
  DATAVERSE_CLIENT_CERTIFICATE_PATH:
    'a file path for local certificate auth; Azure uses the client secret from Key Vault',
  DATAVERSE_TOKEN_ENDPOINT:
    'token endpoint override for the Dataverse simulator; Azure derives it from the tenant',
};

/** Binding connections that are not (yet) in functions/: the pusher's Cosmos DB trigger. */
const EXPECTED_CONNECTIONS = ['SERVICEBUS', 'COSMOS'];

const IDENTITY_CLIENT_ID = '${azurerm_user_assigned_identity.app.client_id}';

let model: TerraformModel;
let settings: Record<string, HclValue>;

/** app_settings with locals resolved, plus the one the provider wants in site_config. */
function effectiveSettings(m: TerraformModel): Record<string, HclValue> {
  const app = resource(m, 'azurerm_function_app_flex_consumption');
  const resolved = resolve(m, app.body.app_settings);
  if (typeof resolved !== 'object' || resolved === null || Array.isArray(resolved)) {
    throw new Error('app_settings must resolve to a map');
  }
  const siteConfig = block(app.body, 'site_config');
  const out: Record<string, HclValue> = { ...resolved };
  if (siteConfig.application_insights_connection_string !== undefined) {
    out.APPLICATIONINSIGHTS_CONNECTION_STRING = siteConfig.application_insights_connection_string;
  }
  return out;
}

beforeAll(async () => {
  model = await loadTerraform();
  settings = effectiveSettings(model);
});

describe('app settings cover every setting the code reads', () => {
  const needed = [...new Set<string>([...SETTING_NAMES, ...TELEMETRY_SETTING_NAMES])];

  it.each(needed)('%s is set by the infrastructure or allow-listed with a reason', (name) => {
    const reason = NOT_SET_IN_AZURE[name as SettingName];
    if (reason !== undefined) {
      expect(reason.length).toBeGreaterThan(20);
      expect(settings).not.toHaveProperty([name]);
    } else {
      expect(settings).toHaveProperty([name]);
    }
  });

  it('the allow-list names only settings the code really reads', () => {
    for (const name of Object.keys(NOT_SET_IN_AZURE)) expect(SETTING_NAMES).toContain(name);
  });

  it('every binding connection used by a function has identity-based settings', async () => {
    const dir = path.resolve(__dirname, '../../functions');
    const connections = new Set(EXPECTED_CONNECTIONS);
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.ts'))) {
      const text = await readFile(path.join(dir, file), 'utf8');
      for (const match of text.matchAll(/connection:\s*['"]([A-Za-z0-9_]+)['"]/g))
        connections.add(match[1] as string);
    }
    for (const connection of connections) {
      expect(settings[`${connection}__credential`]).toBe('managedidentity');
      expect(settings[`${connection}__clientId`]).toBe(IDENTITY_CLIENT_ID);
      expect(settings).not.toHaveProperty([connection]);
    }
  });
});

describe('identity-based connections', () => {
  it('host storage uses the user-assigned identity and no connection string', () => {
    expect(settings.AzureWebJobsStorage__accountName).toBe('${azurerm_storage_account.host.name}');
    expect(settings.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(settings.AzureWebJobsStorage__clientId).toBe(IDENTITY_CLIENT_ID);
    // Present only as an explicit empty value, which keeps the provider from injecting a key-based one.
    expect(settings.AzureWebJobsStorage).toBe('');
  });

  it('Service Bus is addressed by its namespace host name', () => {
    expect(settings.SERVICEBUS__fullyQualifiedNamespace).toBe(
      '${azurerm_servicebus_namespace.main.name}.servicebus.windows.net',
    );
    expect(settings.PULL_JOBS_QUEUE).toBe('${azurerm_servicebus_queue.pull_jobs.name}');
    expect(settings.PUSH_RETRY_QUEUE).toBe('${azurerm_servicebus_queue.push_retry.name}');
  });

  it('Cosmos DB is addressed by its endpoint, for the bindings and the app', () => {
    expect(settings.COSMOS__accountEndpoint).toBe('${azurerm_cosmosdb_account.main.endpoint}');
    expect(settings.COSMOS_ENDPOINT).toBe('${azurerm_cosmosdb_account.main.endpoint}');
    expect(settings.COSMOS_DATABASE).toBe('${azurerm_cosmosdb_sql_database.main.name}');
  });

  it('the app credential and App Insights ingestion use the same identity', () => {
    expect(settings.AZURE_CLIENT_ID).toBe(IDENTITY_CLIENT_ID);
    expect(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toBe(
      `ClientId=${IDENTITY_CLIENT_ID};Authorization=AAD`,
    );
    expect(settings.APPLICATIONINSIGHTS_CONNECTION_STRING).toBe(
      '${azurerm_application_insights.main.connection_string}',
    );
  });
});

describe('no secrets in app settings or anywhere in the Terraform', () => {
  const SECRET_NAME = /(secret|password|key$|_key|connection_?string|sas|token)/i;
  // A name that looks secret is acceptable only with one of these values.
  const isKeyVaultReference = (value: string) => /^@Microsoft\.KeyVault\(SecretUri=[^)]+\)$/.test(value);

  it('the Dataverse secret is a Key Vault reference to a versionless secret URI in this vault', () => {
    const value = resolveString(model, settings.DATAVERSE_CLIENT_SECRET);
    expect(value).toMatch(
      /^@Microsoft\.KeyVault\(SecretUri=\$\{azurerm_key_vault\.main\.vault_uri\}secrets\/[a-z0-9-]+\)$/,
    );
    // Versionless, so a rotated secret is picked up without a deployment.
    expect(value).not.toMatch(/secrets\/[a-z0-9-]+\/[0-9a-f]{32}/);
  });

  it('setting names that look secret hold only Key Vault references or are the allowed non-secrets', () => {
    const allowed = new Set(['APPLICATIONINSIGHTS_CONNECTION_STRING', 'AzureWebJobsStorage']);
    for (const [name, raw] of Object.entries(settings)) {
      if (!SECRET_NAME.test(name) || allowed.has(name)) continue;
      expect({ name, value: raw }).toEqual({ name, value: expect.stringMatching(/^@Microsoft\.KeyVault\(/) });
      expect(isKeyVaultReference(String(raw))).toBe(true);
    }
  });

  it('no setting value is or references a key, SAS or connection string', () => {
    const forbidden =
      /(AccountKey=|SharedAccessKey|SharedAccessSignature|primary_key|secondary_key|access_key|connection_string|_sas|Password=)/i;
    for (const [name, raw] of Object.entries(settings)) {
      if (name === 'APPLICATIONINSIGHTS_CONNECTION_STRING') continue;
      expect({ name, value: String(raw) }).not.toEqual({ name, value: expect.stringMatching(forbidden) });
    }
  });

  it('no Terraform file reads an account key, SAS or a Service Bus/Cosmos/Storage connection string', () => {
    const forbidden = [
      /\.primary_(access_)?key\b/,
      /\.secondary_(access_)?key\b/,
      /primary_connection_string/,
      /primary_sql_connection_string/,
      /default_primary_(key|connection_string)/,
      /azurerm_servicebus_namespace_authorization_rule/,
      /azurerm_servicebus_queue_authorization_rule/,
      /azurerm_storage_account_sas/,
      /\bstorage_access_key\b/,
      /function_app_storage_account_access_key/,
    ];
    for (const [file, text] of Object.entries(model.sources)) {
      for (const pattern of forbidden)
        expect({ file, found: pattern.test(text) }).toEqual({ file, found: false });
    }
  });

  it('the only connection string referenced is Application Insights, and only in site_config', () => {
    const uses = Object.entries(model.sources).flatMap(([file, text]) =>
      [...text.matchAll(/([a-z_]+\.[a-z_]+)\.connection_string/g)].map((m) => `${file}:${m[1]}`),
    );
    expect(uses.sort()).toEqual([
      'function.tf:azurerm_application_insights.main',
      'outputs.tf:azurerm_application_insights.main',
    ]);
    expect(resource(model, 'azurerm_application_insights').body.local_authentication_disabled).toBe(true);
  });

  it('the Dataverse secret variable is sensitive and defaults to empty (never a literal secret)', () => {
    const variable = model.variables.dataverse_client_secret;
    expect(variable?.sensitive).toBe(true);
    expect(variable?.default).toBe('');
  });

  it('main.tfvars.json passes secrets from the azd environment, never literally', async () => {
    const tfvars = JSON.parse(await readFile(path.join(model.dir, 'main.tfvars.json'), 'utf8')) as Record<
      string,
      string
    >;
    for (const [name, value] of Object.entries(tfvars)) {
      expect({ name, value }).toEqual({ name, value: expect.stringMatching(/^\$\{[A-Z][A-Z0-9_]*\}$/) });
    }
    expect(tfvars.dataverse_client_secret).toBe('${DATAVERSE_CLIENT_SECRET}');
  });

  it('outputs that carry a connection string are marked sensitive', () => {
    for (const [name, output] of Object.entries(model.outputs)) {
      if (/connection_string/i.test(JSON.stringify(output.value)))
        expect({ name, sensitive: output.sensitive }).toEqual({ name, sensitive: true });
    }
  });
});
