import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  loadTerraform,
  resolve,
  resource,
  type HclBody,
  type TerraformModel,
} from './infra-terraform.helpers';

/** Dataverse's service protection limits per user (docs/api-budget.md). */
const DATAVERSE = { requests: 6000, executionSeconds: 1200, concurrency: 52, windowSeconds: 300 };

let model: TerraformModel;
let settings: HclBody;
const defaultOf = (name: string): unknown => model.variables[name]?.default;

beforeAll(async () => {
  model = await loadTerraform();
  settings = resolve(
    model,
    resource(model, 'azurerm_function_app_flex_consumption').body.app_settings,
  ) as HclBody;
});

describe('the deployed app keeps one Dataverse budget however far it scales out', () => {
  it('every instance leases from the shared budget, over the service window', () => {
    expect(settings.DATAVERSE_BUDGET).toBe('shared');
    expect(settings.DATAVERSE_BUDGET_WINDOW_SECONDS).toBe(String(DATAVERSE.windowSeconds));
    expect(Number(settings.DATAVERSE_BUDGET_LEASE_SECONDS)).toBeLessThanOrEqual(DATAVERSE.windowSeconds / 10);
    expect(settings.DATAVERSE_BUDGET_REQUESTS).toBe('${tostring(var.dataverse_budget_requests)}');
    expect(settings.DATAVERSE_BUDGET_EXECUTION_SECONDS).toBe(
      '${tostring(var.dataverse_budget_execution_seconds)}',
    );
    expect(settings.DATAVERSE_BUDGET_CONCURRENCY).toBe('${tostring(var.dataverse_budget_concurrency)}');
  });

  it('the budget defaults to the limits of one application user and cannot be set above them', () => {
    expect(defaultOf('dataverse_budget_requests')).toBe(DATAVERSE.requests);
    expect(defaultOf('dataverse_budget_execution_seconds')).toBe(DATAVERSE.executionSeconds);
    expect(defaultOf('dataverse_budget_concurrency')).toBe(DATAVERSE.concurrency);
    for (const [name, limit] of [
      ['dataverse_budget_requests', DATAVERSE.requests],
      ['dataverse_budget_execution_seconds', DATAVERSE.executionSeconds],
      ['dataverse_budget_concurrency', DATAVERSE.concurrency],
    ] as const) {
      const validation = (model.variables[name]?.validation as HclBody[] | undefined)?.[0];
      expect(String(validation?.condition)).toContain(`var.${name} <= ${limit}`);
    }
  });

  it('instances x requests per instance can use the whole concurrency budget, and sessions match the per-instance cap', async () => {
    const instances = Number(defaultOf('function_maximum_instance_count'));
    const perInstance = Number(defaultOf('dataverse_max_concurrency'));
    expect(instances * perInstance).toBeGreaterThanOrEqual(Number(defaultOf('dataverse_budget_concurrency')));
    // A pull session keeps one request in flight: more sessions than the cap would only queue.
    const host = JSON.parse(await readFile(path.join(model.dir, '..', 'host.json'), 'utf8')) as {
      extensions: { serviceBus: { maxConcurrentSessions: number } };
    };
    expect(host.extensions.serviceBus.maxConcurrentSessions).toBe(perInstance);
  });
});
