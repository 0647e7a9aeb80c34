import { readFileSync } from 'node:fs';
import path from 'node:path';
import { INFRA_DIR, type HclBody, type HclValue, type TerraformResource } from './infra-terraform.helpers';

/** The layout of infra/schema/*.subset.json, written by infra/schema/extract-schema.mjs. */
export interface BlockSchema {
  attributes: Record<string, 'required' | 'optional' | 'computed'>;
  block_types: Record<string, NestedBlockSchema>;
}

export interface NestedBlockSchema {
  nesting_mode: 'list' | 'set' | 'single' | 'group' | 'map';
  min_items: number;
  /** 0: no limit, as in Terraform's own schema. */
  max_items: number;
  block: BlockSchema;
}

export interface ProviderSchemaSubset {
  source: string;
  provider: string;
  version: string;
  resource_schemas: Record<string, BlockSchema>;
  data_source_schemas: Record<string, BlockSchema>;
}

export const AZURERM_SCHEMA_VERSION = '4.79.0';
export const AZURERM_SCHEMA_FILE = path.join(
  INFRA_DIR,
  'schema',
  `azurerm-${AZURERM_SCHEMA_VERSION}.subset.json`,
);

export function loadAzurermSchema(file = AZURERM_SCHEMA_FILE): ProviderSchemaSubset {
  return JSON.parse(readFileSync(file, 'utf8')) as ProviderSchemaSubset;
}

/** Terraform's meta-arguments: the language's, not the provider's, so never in a provider schema. */
const RESOURCE_META = new Set([
  'count',
  'for_each',
  'depends_on',
  'provider',
  'lifecycle',
  'provisioner',
  'connection',
]);
const DATA_META = new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle']);
const DYNAMIC_ARGUMENTS = new Set(['for_each', 'iterator', 'labels', 'content']);

const isBody = (value: HclValue): value is HclBody =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export interface SchemaCheck {
  /** One line per problem: `file: address: argument path: what is wrong`. */
  problems: string[];
  /** Addresses of blocks whose type belongs to another provider and so is not checked. */
  skipped: string[];
}

/**
 * Checks resource and data blocks as hcl2json parses them against the vendored azurerm schema:
 * known type, no unknown argument, every required argument, no computed-only attribute set, nested
 * blocks known and checked the same way, and their number within min/max items. Types of other
 * providers are not checked; they are returned in `skipped`.
 *
 * hcl2json gives a block as an array of objects and an attribute as its value, so an attribute
 * holding a list of objects looks like a block: the schema decides which one a name is.
 */
export function checkAgainstSchema(
  blocks: { resources: TerraformResource[]; data: TerraformResource[] },
  schema: ProviderSchemaSubset,
): SchemaCheck {
  const result: SchemaCheck = { problems: [], skipped: [] };
  const kinds = [
    { list: blocks.resources, schemas: schema.resource_schemas, meta: RESOURCE_META, what: 'resource' },
    { list: blocks.data, schemas: schema.data_source_schemas, meta: DATA_META, what: 'data source' },
  ];
  for (const { list, schemas, meta, what } of kinds) {
    for (const block of list) {
      if (!block.type.startsWith('azurerm_')) {
        result.skipped.push(block.address);
        continue;
      }
      const report = (where: string, problem: string) =>
        result.problems.push(
          `${block.file}: ${block.address}${where === '' ? '' : `: ${where}`}: ${problem}`,
        );
      const typeSchema = schemas[block.type];
      if (typeSchema === undefined) {
        report(
          '',
          `${what} type ${block.type} is not in the vendored azurerm ${schema.version} schema (infra/schema/extract-schema.mjs extracts it)`,
        );
        continue;
      }
      checkBody(block.body, typeSchema, '', meta, report, schema.version);
    }
  }
  return result;
}

function checkBody(
  body: HclBody,
  schema: BlockSchema,
  path: string,
  meta: ReadonlySet<string>,
  report: (where: string, problem: string) => void,
  version: string,
): void {
  const at = (name: string) => (path === '' ? name : `${path}.${name}`);
  const staticCounts = new Map<string, number>();
  const dynamicNames = new Set<string>();

  for (const [name, value] of Object.entries(body)) {
    if (meta.has(name)) continue;
    if (name === 'dynamic' && isBody(value)) {
      for (const [blockName, entries] of Object.entries(value)) {
        const nested = schema.block_types[blockName];
        if (nested === undefined) {
          report(
            at(`dynamic "${blockName}"`),
            blockName in schema.attributes
              ? 'is an attribute, not a block: it cannot be generated with dynamic'
              : `unknown block (not in the azurerm ${version} schema)`,
          );
          continue;
        }
        dynamicNames.add(blockName);
        for (const [i, entry] of (Array.isArray(entries) ? entries : [entries]).entries()) {
          const where = at(`dynamic "${blockName}"[${i}]`);
          if (!isBody(entry)) {
            report(where, 'is not a block');
            continue;
          }
          for (const key of Object.keys(entry)) {
            if (!DYNAMIC_ARGUMENTS.has(key)) report(`${where}.${key}`, 'unknown argument of a dynamic block');
          }
          if (!('for_each' in entry)) report(where, 'missing for_each');
          const content = Array.isArray(entry.content) ? entry.content.filter(isBody) : [];
          if (content.length !== 1) {
            report(where, `needs exactly one content block, has ${content.length}`);
            continue;
          }
          checkBody(content[0] as HclBody, nested.block, `${where}.content`, new Set(), report, version);
        }
      }
      continue;
    }
    const attribute = schema.attributes[name];
    if (attribute !== undefined) {
      if (attribute === 'computed')
        report(at(name), 'computed-only attribute: the provider sets it, it cannot be set');
      continue;
    }
    const nested = schema.block_types[name];
    if (nested !== undefined) {
      const instances = Array.isArray(value) ? value : [value];
      staticCounts.set(name, instances.length);
      for (const [i, instance] of instances.entries()) {
        if (!isBody(instance)) {
          report(at(`${name}[${i}]`), `is a block: write ${name} { ... }, not ${name} = ...`);
          continue;
        }
        checkBody(instance, nested.block, at(`${name}[${i}]`), new Set(), report, version);
      }
      continue;
    }
    report(at(name), `unknown argument (not in the azurerm ${version} schema)`);
  }

  for (const [name, kind] of Object.entries(schema.attributes)) {
    if (kind === 'required' && !(name in body)) report(at(name), 'required argument is missing');
  }
  for (const [name, nested] of Object.entries(schema.block_types)) {
    const count = staticCounts.get(name) ?? 0;
    const max = nested.nesting_mode === 'single' ? 1 : nested.max_items;
    if (max > 0 && count > max) report(at(name), `${count} blocks, at most ${max} allowed`);
    // A dynamic block may produce any number, so only static blocks can prove a shortfall.
    if (!dynamicNames.has(name) && count < nested.min_items) {
      report(at(name), `${count} blocks, at least ${nested.min_items} required`);
    }
  }
}
