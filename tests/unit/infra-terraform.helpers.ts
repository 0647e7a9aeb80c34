import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from '@cdktf/hcl2json';

/** A parsed Terraform value: hcl2json keeps expressions as `${...}` strings and blocks as arrays. */
export type HclValue = string | number | boolean | null | HclValue[] | { [key: string]: HclValue };
export type HclBody = Record<string, HclValue>;

export interface TerraformResource {
  type: string;
  name: string;
  /** `azurerm_x.name`, the prefix every reference to it starts with. */
  address: string;
  file: string;
  body: HclBody;
}

export interface TerraformModel {
  dir: string;
  /** Raw text per file, for checks that look for forbidden references anywhere. */
  sources: Record<string, string>;
  resources: TerraformResource[];
  data: TerraformResource[];
  locals: HclBody;
  variables: Record<string, HclBody>;
  outputs: Record<string, HclBody>;
  terraform: HclBody[];
  providers: Record<string, HclBody>;
}

export const INFRA_DIR = path.resolve(__dirname, '../../infra');

const isObject = (value: unknown): value is Record<string, HclValue> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Parses every .tf file of a directory with the real HCL parser (hcl2json, Go's hcl compiled to wasm). */
export async function loadTerraform(dir = INFRA_DIR): Promise<TerraformModel> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.tf')).sort();
  const sources: Record<string, string> = {};
  for (const file of files) sources[file] = await readFile(path.join(dir, file), 'utf8');
  return parseTerraform(sources, dir);
}

const unwrap = (expression: HclValue | undefined): string => String(expression).replace(/^\$\{|\}$/g, '');

/** Parses Terraform sources given as text (file name to content), e.g. a synthetic snippet in a test. */
export async function parseTerraform(
  sources: Record<string, string>,
  dir = '(in memory)',
): Promise<TerraformModel> {
  const model: TerraformModel = {
    dir,
    sources: {},
    resources: [],
    data: [],
    locals: {},
    variables: {},
    outputs: {},
    terraform: [],
    providers: {},
  };
  for (const [file, text] of Object.entries(sources)) {
    model.sources[file] = text;
    const parsed = (await parse(file, text)) as Record<string, unknown>;
    for (const [kind, content] of Object.entries(parsed)) {
      if (kind === 'resource' || kind === 'data') {
        for (const [type, byName] of Object.entries(content as Record<string, Record<string, HclBody[]>>)) {
          for (const [name, bodies] of Object.entries(byName)) {
            for (const body of bodies) {
              const address = kind === 'data' ? `data.${type}.${name}` : `${type}.${name}`;
              (kind === 'data' ? model.data : model.resources).push({ type, name, address, file, body });
            }
          }
        }
      } else if (kind === 'locals') {
        for (const block of content as HclBody[]) Object.assign(model.locals, block);
      } else if (kind === 'variable') {
        for (const [name, bodies] of Object.entries(content as Record<string, HclBody[]>)) {
          model.variables[name] = bodies[0] ?? {};
        }
      } else if (kind === 'output') {
        for (const [name, bodies] of Object.entries(content as Record<string, HclBody[]>)) {
          model.outputs[name] = bodies[0] ?? {};
        }
      } else if (kind === 'terraform') {
        model.terraform.push(...(content as HclBody[]));
      } else if (kind === 'provider') {
        for (const [name, bodies] of Object.entries(content as Record<string, HclBody[]>)) {
          model.providers[name] = bodies[0] ?? {};
        }
      } else {
        throw new Error(`${file}: unexpected top-level block "${kind}"`);
      }
    }
  }
  return model;
}

export function resourcesOf(model: TerraformModel, type: string): TerraformResource[] {
  return model.resources.filter((resource) => resource.type === type);
}

export function resource(model: TerraformModel, type: string, name?: string): TerraformResource {
  const matches = resourcesOf(model, type).filter((r) => name === undefined || r.name === name);
  if (matches.length !== 1) {
    throw new Error(`expected exactly one ${type}${name ? `.${name}` : ''}, found ${matches.length}`);
  }
  return matches[0] as TerraformResource;
}

/** The first (only) instance of a nested block, e.g. `site_config`. */
export function block(body: HclBody, name: string): HclBody {
  const value = body[name];
  const first = Array.isArray(value) ? value[0] : undefined;
  if (!isObject(first)) throw new Error(`block "${name}" is missing`);
  return first;
}

export function blocks(body: HclBody, name: string): HclBody[] {
  const value = body[name];
  return Array.isArray(value) ? value.filter(isObject) : [];
}

const WHOLE_EXPRESSION = /^\$\{([^{}]+)\}$/;

function lookup(root: HclValue | undefined, keys: string[]): HclValue | undefined {
  let current = root;
  for (const key of keys) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/**
 * Resolves what can be known without Azure: `${var.x}` to the variable's default and `${local.x.y}`
 * to the local's value, recursively. Anything else (resource attributes, functions) stays an
 * expression string, which the checks compare as text.
 */
export function resolve(model: TerraformModel, value: HclValue | undefined, depth = 0): HclValue | undefined {
  if (depth > 20) throw new Error('reference cycle while resolving');
  if (typeof value === 'string') {
    const match = WHOLE_EXPRESSION.exec(value);
    const expression = match?.[1]?.trim();
    if (expression !== undefined && /^var\.[A-Za-z0-9_]+$/.test(expression)) {
      const variable = model.variables[expression.slice(4)];
      // A variable without a default is supplied at deploy time: keep the reference.
      return variable === undefined || !('default' in variable)
        ? value
        : resolve(model, variable.default, depth + 1);
    }
    if (expression !== undefined && /^local\.[A-Za-z0-9_.]+$/.test(expression)) {
      const found = lookup(model.locals, expression.slice(6).split('.'));
      return found === undefined ? value : resolve(model, found, depth + 1);
    }
    // References embedded in a longer string are substituted when they resolve to plain text.
    return value.replace(/\$\{((?:var|local)\.[A-Za-z0-9_.]+)\}/g, (whole, reference: string) => {
      const inner = resolve(model, `\${${reference}}`, depth + 1);
      return typeof inner === 'string' || typeof inner === 'number' ? String(inner) : whole;
    });
  }
  if (Array.isArray(value)) return value.map((item) => resolve(model, item, depth + 1) as HclValue);
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolve(model, v, depth + 1) as HclValue]),
    );
  }
  return value;
}

export function resolveString(model: TerraformModel, value: HclValue | undefined): string {
  const resolved = resolve(model, value);
  if (typeof resolved !== 'string') throw new Error(`expected a string, got ${JSON.stringify(resolved)}`);
  return resolved;
}

/**
 * The values a resource's for_each iterates over, when it is `toset(local.list)`, `local.map` or a
 * literal list; each.value of each instance.
 */
export function forEachValues(model: TerraformModel, body: HclBody): HclValue[] {
  const raw = body.for_each;
  if (raw === undefined) return [];
  if (typeof raw === 'string') {
    const toset = /^\$\{toset\((local\.[A-Za-z0-9_.]+)\)\}$/.exec(raw);
    const target = toset ? resolve(model, `\${${toset[1]}}`) : resolve(model, raw);
    if (Array.isArray(target)) return target;
    if (isObject(target)) return Object.values(target);
    throw new Error(`cannot expand for_each ${raw}`);
  }
  if (Array.isArray(raw)) return raw;
  if (isObject(raw)) return Object.values(raw);
  return [];
}

/** One instance of a resource: the body with `each.key` / `each.value` filled in. */
export interface ResourceInstance {
  /** `type.name` or `type.name["key"]`, as in state. */
  address: string;
  key: string | undefined;
  resource: TerraformResource;
  body: HclBody;
}

/** A value as written, following whole `${local.x}` references (not variables: they stay as written). */
function written(model: TerraformModel, value: HclValue | undefined, depth = 0): HclValue | undefined {
  if (depth > 20) throw new Error('reference cycle while following locals');
  const local = typeof value === 'string' ? /^\$\{local\.([A-Za-z0-9_.]+)\}$/.exec(value) : null;
  if (!local) return value;
  const found = lookup(model.locals, (local[1] as string).split('.'));
  return found === undefined ? value : written(model, found, depth + 1);
}

/** `path` into a value as written, following local references on the way. */
function writtenPath(model: TerraformModel, value: HclValue, path: string[]): HclValue | undefined {
  let current: HclValue | undefined = written(model, value);
  for (const key of path) {
    if (!isObject(current)) return undefined;
    current = written(model, current[key]);
  }
  return current;
}

/**
 * `<root>.key` and `<root>.value` (with a path into the value) replaced: a whole `${...}` by the
 * value as written, one embedded in a longer string by its text when that is plain text.
 */
function substitute(
  model: TerraformModel,
  value: HclValue,
  root: string,
  key: string,
  item: HclValue,
): HclValue {
  const reference = new RegExp(`\\$\\{${root}\\.(key|value)((?:\\.[A-Za-z0-9_]+)*)\\}`, 'g');
  const valueOf = (which: string, pathText: string): HclValue | undefined =>
    which === 'key' ? key : writtenPath(model, item, pathText.split('.').filter(Boolean));
  if (typeof value === 'string') {
    const whole = new RegExp(`^${reference.source}$`).exec(value);
    if (whole) return valueOf(whole[1] as string, whole[2] as string) ?? value;
    return value.replace(reference, (text, which: string, pathText: string) => {
      const found = valueOf(which, pathText);
      return typeof found === 'string' || typeof found === 'number' ? String(found) : text;
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(model, v, root, key, item));
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substitute(model, v, root, key, item)]),
    );
  }
  return value;
}

/**
 * What a for_each iterates over, when that is known without Azure: a literal, a local, or
 * `toset(...)` of one. Entries are [key, value]: a map's keys, or a list's values as keys.
 */
function forEachEntries(
  model: TerraformModel,
  forEach: HclValue | undefined,
): [string, HclValue][] | undefined {
  const toset = typeof forEach === 'string' ? /^\$\{toset\((local\.[A-Za-z0-9_.]+)\)\}$/.exec(forEach) : null;
  const collection = written(model, toset ? `\${${toset[1]}}` : forEach);
  if (Array.isArray(collection)) return collection.map((item) => [String(item), item]);
  if (isObject(collection)) return Object.entries(collection);
  return undefined;
}

/** Adds blocks under a name; none is no block at all, as in HCL. */
const appendTo = (target: HclBody, name: string, items: HclValue[]) => {
  if (items.length > 0) target[name] = [...((target[name] as HclValue[] | undefined) ?? []), ...items];
};

/**
 * Dynamic blocks whose for_each is known without Azure become the blocks they generate; the
 * others (e.g. over a condition on a variable) stay dynamic.
 */
function expandDynamic(model: TerraformModel, body: HclBody): HclBody {
  const out: HclBody = {};
  const pending: HclBody = {};
  for (const [name, value] of Object.entries(body)) {
    if (name === 'dynamic' && isObject(value)) {
      for (const [blockName, specs] of Object.entries(value)) {
        for (const spec of Array.isArray(specs) ? specs : [specs]) {
          const content = isObject(spec) && Array.isArray(spec.content) ? spec.content[0] : undefined;
          const entries = isObject(spec) ? forEachEntries(model, spec.for_each) : undefined;
          if (!isObject(spec) || !isObject(content) || entries === undefined) {
            appendTo(pending, blockName, [spec]);
            continue;
          }
          const iterator = spec.iterator === undefined ? blockName : unwrap(spec.iterator);
          const generated = entries.map(([key, item]) =>
            expandDynamic(model, substitute(model, content, iterator, key, item) as HclBody),
          );
          appendTo(out, blockName, generated);
        }
      }
    } else if (Array.isArray(value) && value.length > 0 && value.every(isObject)) {
      appendTo(
        out,
        name,
        value.map((nested) => expandDynamic(model, nested)),
      );
    } else {
      out[name] = value;
    }
  }
  if (Object.keys(pending).length > 0) out.dynamic = pending;
  return out;
}

/**
 * The instances Terraform would make of a resource: one per for_each entry when for_each is
 * known without Azure, with each.key and each.value filled in (values as written: variables stay
 * `${var.x}`) and the dynamic blocks they feed expanded; otherwise the resource itself, its known
 * dynamic blocks expanded (count is left as it is).
 */
export function instances(model: TerraformModel, r: TerraformResource): ResourceInstance[] {
  const { for_each: forEach, ...rest } = r.body;
  if (forEach === undefined) {
    return [{ address: r.address, key: undefined, resource: r, body: expandDynamic(model, rest) }];
  }
  const entries = forEachEntries(model, forEach);
  if (entries === undefined)
    throw new Error(`${r.address}: cannot expand for_each ${JSON.stringify(forEach)}`);
  return entries.map(([key, item]) => ({
    address: `${r.address}[${JSON.stringify(key)}]`,
    key,
    resource: r,
    body: expandDynamic(model, substitute(model, rest, 'each', key, item) as HclBody),
  }));
}

/** Every instance of every resource of a type. */
export function instancesOf(model: TerraformModel, type: string): ResourceInstance[] {
  return resourcesOf(model, type).flatMap((r) => instances(model, r));
}

/** Every `var.name` referenced anywhere in the sources. */
export function referencedVariables(model: TerraformModel): Set<string> {
  const names = new Set<string>();
  for (const text of Object.values(model.sources)) {
    for (const match of text.matchAll(/\bvar\.([A-Za-z0-9_]+)/g)) names.add(match[1] as string);
  }
  return names;
}

/** ISO 8601 duration (PnDTnHnMnS) in milliseconds; the subset Service Bus uses. */
export function isoDurationMs(value: string): number {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(value);
  if (!match || value === 'P' || value.endsWith('T')) throw new Error(`not an ISO 8601 duration: ${value}`);
  const [, days, hours, minutes, seconds] = match;
  return (
    ((Number(days ?? 0) * 24 + Number(hours ?? 0)) * 60 + Number(minutes ?? 0)) * 60_000 +
    Number(seconds ?? 0) * 1000
  );
}
