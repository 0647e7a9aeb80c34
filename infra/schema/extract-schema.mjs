#!/usr/bin/env node
// Maintenance tool, not run by the tests: rewrites infra/schema/azurerm-<version>.subset.json, the
// part of the azurerm provider schema that infra/*.tf uses, which tests/unit/infra-schema.test.ts
// checks every resource and data block against.
//
//   node infra/schema/extract-schema.mjs <full-schema.json[.gz]> [--version X.Y.Z] [--out <file>]
//
// The full schema may be either
//   - the output of `terraform providers schema -json` in a directory that uses azurerm at the
//     pinned version (pass --version, that output does not carry it), or
//   - a compact dump {"version", "resource": {type: body}, "data": {type: body}} where a body is
//     {"a": {name: "r" | "o" | "c"}, "b": {name: {"n": nesting, "min", "max", "b": body}}}.
// Either way gzip is accepted. Every resource and data type of infra/*.tf that starts with
// "azurerm_" is extracted, with all of its nested blocks; other providers' types are listed on
// stderr (the test keeps its own list of the types it does not check).
//
// After a provider upgrade: get the new full schema, run this, bump the version in the file name
// and in tests/unit/infra-schema.test.ts, and read the diff of the subset.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parse } from '@cdktf/hcl2json';

const PROVIDER = 'registry.terraform.io/hashicorp/azurerm';
const here = path.dirname(fileURLToPath(import.meta.url));
const infraDir = path.resolve(here, '..');

function usage(message) {
  if (message) console.error(message);
  console.error(
    'usage: node infra/schema/extract-schema.mjs <full-schema.json[.gz]> [--version X.Y.Z] [--out <file>]',
  );
  process.exit(2);
}

const args = process.argv.slice(2);
let input;
let version;
let out;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--version') version = args[++i];
  else if (args[i] === '--out') out = args[++i];
  else if (args[i]?.startsWith('--')) usage(`unknown option ${args[i]}`);
  else if (input === undefined) input = args[i];
  else usage('only one schema file');
}
if (input === undefined) usage();

const raw = readFileSync(input);
const full = JSON.parse((input.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'));

const KIND = { r: 'required', o: 'optional', c: 'computed' };

/**
 * A block in the vendored layout, read through `shape`: how the input lists a block's attributes
 * and nested blocks, what kind an attribute is, and a nested block's nesting, limits and body.
 */
function vendored(block, shape) {
  const attributes = {};
  for (const [name, attribute] of Object.entries(shape.attributes(block))) {
    attributes[name] = shape.kind(attribute, name);
  }
  const blockTypes = {};
  for (const [name, nested] of Object.entries(shape.blocks(block))) {
    const { nesting, min, max, body } = shape.nested(nested);
    blockTypes[name] = {
      nesting_mode: nesting,
      min_items: min ?? 0,
      max_items: max ?? 0,
      block: vendored(body ?? {}, shape),
    };
  }
  return { attributes, block_types: blockTypes };
}

/** The compact dump: {"a": {name: "r" | "o" | "c"}, "b": {name: {"n", "min", "max", "b"}}}. */
const COMPACT = {
  attributes: (block) => block.a ?? {},
  blocks: (block) => block.b ?? {},
  kind: (kind, name) => {
    if (!(kind in KIND)) throw new Error(`unknown attribute kind ${JSON.stringify(kind)} of ${name}`);
    return KIND[kind];
  },
  nested: (nested) => ({ nesting: nested.n, min: nested.min, max: nested.max, body: nested.b }),
};

/** `terraform providers schema -json`: attributes flagged required/optional/computed, block_types. */
const TERRAFORM = {
  attributes: (block) => block.attributes ?? {},
  blocks: (block) => block.block_types ?? {},
  kind: (attribute) => (attribute.required ? 'required' : attribute.optional ? 'optional' : 'computed'),
  nested: (nested) => ({
    nesting: nested.nesting_mode,
    min: nested.min_items,
    max: nested.max_items,
    body: nested.block,
  }),
};

let schemas;
if (full.provider_schemas !== undefined) {
  const provider = full.provider_schemas[PROVIDER];
  if (provider === undefined) usage(`${input} has no schema for ${PROVIDER}`);
  if (version === undefined)
    usage('terraform providers schema -json does not say the version: pass --version');
  schemas = {
    resource: (type) =>
      provider.resource_schemas?.[type] && vendored(provider.resource_schemas[type].block, TERRAFORM),
    data: (type) =>
      provider.data_source_schemas?.[type] && vendored(provider.data_source_schemas[type].block, TERRAFORM),
  };
} else if (full.resource !== undefined) {
  if (version !== undefined && version !== full.version)
    usage(`--version ${version} but the file is ${full.version}`);
  version = full.version;
  schemas = {
    resource: (type) => full.resource[type] && vendored(full.resource[type], COMPACT),
    data: (type) => full.data?.[type] && vendored(full.data[type], COMPACT),
  };
} else {
  usage(`${input} is neither \`terraform providers schema -json\` output nor the compact dump`);
}

/** Object with its keys sorted, recursively, so the file diffs cleanly between versions. */
function sorted(value) {
  if (Array.isArray(value) || value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sorted(value[key])]),
  );
}

const used = { resource: new Set(), data: new Set() };
for (const file of readdirSync(infraDir)
  .filter((f) => f.endsWith('.tf'))
  .sort()) {
  const parsed = await parse(file, readFileSync(path.join(infraDir, file), 'utf8'));
  for (const kind of ['resource', 'data']) {
    for (const type of Object.keys(parsed[kind] ?? {})) used[kind].add(type);
  }
}

const extracted = { resource: {}, data: {} };
const skipped = [];
for (const kind of ['resource', 'data']) {
  for (const type of [...used[kind]].sort()) {
    if (!type.startsWith('azurerm_')) {
      skipped.push(`${kind} ${type}`);
      continue;
    }
    const schema = schemas[kind](type);
    if (!schema) throw new Error(`${kind} type ${type} is not in the azurerm ${version} schema`);
    extracted[kind][type] = schema;
  }
}

const subset = {
  source: `Terraform provider schema of hashicorp/azurerm ${version} (${PROVIDER}), reduced to the resource and data source types infra/*.tf uses; extracted by infra/schema/extract-schema.mjs. Do not edit by hand.`,
  provider: PROVIDER,
  version,
  format:
    'attributes: name -> required | optional (may also be computed) | computed (read-only, must not be set). block_types: name -> nesting_mode (list, set, single), min_items, max_items (0: no limit, as in Terraform), block.',
  resource_schemas: sorted(extracted.resource),
  data_source_schemas: sorted(extracted.data),
};

const target = out ?? path.join(here, `azurerm-${version}.subset.json`);
writeFileSync(target, `${JSON.stringify(subset, null, 2)}\n`);
console.error(
  `wrote ${path.relative(process.cwd(), target)}: ${Object.keys(extracted.resource).length} resource and ${Object.keys(extracted.data).length} data source types`,
);
if (skipped.length > 0) console.error(`not azurerm, not extracted: ${skipped.join(', ')}`);
