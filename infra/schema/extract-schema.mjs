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

/** A block of the compact dump in the vendored layout. */
function fromCompact(body) {
  const attributes = {};
  for (const [name, kind] of Object.entries(body.a ?? {})) {
    if (!(kind in KIND)) throw new Error(`unknown attribute kind ${JSON.stringify(kind)} of ${name}`);
    attributes[name] = KIND[kind];
  }
  const blockTypes = {};
  for (const [name, nested] of Object.entries(body.b ?? {})) {
    blockTypes[name] = {
      nesting_mode: nested.n,
      min_items: nested.min ?? 0,
      max_items: nested.max ?? 0,
      block: fromCompact(nested.b ?? {}),
    };
  }
  return { attributes, block_types: blockTypes };
}

/** A block of `terraform providers schema -json` in the vendored layout. */
function fromTerraform(block) {
  const attributes = {};
  for (const [name, attribute] of Object.entries(block.attributes ?? {})) {
    attributes[name] = attribute.required ? 'required' : attribute.optional ? 'optional' : 'computed';
  }
  const blockTypes = {};
  for (const [name, nested] of Object.entries(block.block_types ?? {})) {
    blockTypes[name] = {
      nesting_mode: nested.nesting_mode,
      min_items: nested.min_items ?? 0,
      max_items: nested.max_items ?? 0,
      block: fromTerraform(nested.block ?? {}),
    };
  }
  return { attributes, block_types: blockTypes };
}

let schemas;
if (full.provider_schemas !== undefined) {
  const provider = full.provider_schemas[PROVIDER];
  if (provider === undefined) usage(`${input} has no schema for ${PROVIDER}`);
  if (version === undefined)
    usage('terraform providers schema -json does not say the version: pass --version');
  schemas = {
    resource: (type) =>
      provider.resource_schemas?.[type] && fromTerraform(provider.resource_schemas[type].block),
    data: (type) =>
      provider.data_source_schemas?.[type] && fromTerraform(provider.data_source_schemas[type].block),
  };
} else if (full.resource !== undefined) {
  if (version !== undefined && version !== full.version)
    usage(`--version ${version} but the file is ${full.version}`);
  version = full.version;
  schemas = {
    resource: (type) => full.resource[type] && fromCompact(full.resource[type]),
    data: (type) => full.data?.[type] && fromCompact(full.data[type]),
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
