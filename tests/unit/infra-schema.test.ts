import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
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

/**
 * Snippets with deliberate mistakes, one file each: its `# expect:` lines are exactly the problems
 * the check must report (without the file name), its `# skipped:` lines the blocks it must skip.
 */
const MISTAKES_DIR = path.resolve(__dirname, '../fixtures/infra/schema-mistakes');
const mistakeFiles = readdirSync(MISTAKES_DIR)
  .filter((file) => file.endsWith('.tf'))
  .sort();
const linesAfter = (text: string, marker: string) =>
  [...text.matchAll(new RegExp(`^# ${marker}: (.+)$`, 'gm'))].map((m) => m[1] as string);

describe('the check reports what is wrong (tests/fixtures/infra/schema-mistakes)', () => {
  it.each(mistakeFiles)('%s', async (file) => {
    const text = readFileSync(path.join(MISTAKES_DIR, file), 'utf8');
    const { problems, skipped } = checkAgainstSchema(await parseTerraform({ [file]: text }), schema);
    expect([...problems].sort()).toEqual(
      linesAfter(text, 'expect')
        .map((p) => `${file}: ${p}`)
        .sort(),
    );
    expect(skipped).toEqual(linesAfter(text, 'skipped'));
  });

  it('the snippets cover every kind of problem, and only valid-*.tf expects none', () => {
    const expected = mistakeFiles.map((file) => ({
      file,
      problems: linesAfter(readFileSync(path.join(MISTAKES_DIR, file), 'utf8'), 'expect'),
    }));
    for (const { file, problems } of expected) {
      expect({ file, expectsProblems: problems.length > 0 }).toEqual({
        file,
        expectsProblems: !file.startsWith('valid-'),
      });
    }
    const all = expected.flatMap((e) => e.problems).join('\n');
    for (const kind of [
      ': unknown argument',
      ': required argument is missing',
      ': computed-only attribute',
      'blocks, at most',
      'blocks, at least',
      'unknown block',
      'is not in the vendored',
    ]) {
      expect(all).toContain(kind);
    }
  });

  it('the argument the Flex Consumption app does not have in 4.79.0, added to the real app', () => {
    const app = model.resources.find((r) => r.type === 'azurerm_function_app_flex_consumption');
    if (app === undefined) throw new Error('no Flex Consumption app in infra');
    const withReference = { ...app, body: { ...app.body, key_vault_reference_identity_id: '${x.id}' } };
    expect(checkAgainstSchema({ resources: [withReference], data: [] }, schema).problems).toEqual([
      'function.tf: azurerm_function_app_flex_consumption.main: key_vault_reference_identity_id: unknown argument (not in the azurerm 4.79.0 schema)',
    ]);
  });
});
