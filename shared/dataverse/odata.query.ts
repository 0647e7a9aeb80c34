import { DataverseError } from './dataverse.errors';

/*
 * Safe OData building blocks. Every value that ends up in a $filter goes through a literal
 * function here, and every name through `identifier`, so no filter is built by pasting text.
 */

const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
const guidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const isoDatePattern = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2}))?$/;

const invalid = (message: string): DataverseError =>
  new DataverseError(message, { code: 'validation', retryable: false });

/** A column, table or entity set name: letters, digits and underscores only. */
export function identifier(name: string): string {
  if (!identifierPattern.test(name)) throw invalid(`Not a valid OData identifier: ${JSON.stringify(name)}`);
  return name;
}

export function isGuid(value: string): boolean {
  return guidPattern.test(value);
}

export function guid(value: string): string {
  const bare = value.replace(/^\{(.*)\}$/, '$1');
  if (!isGuid(bare)) throw invalid(`Not a GUID: ${JSON.stringify(value)}`);
  return bare.toLowerCase();
}

/** A string literal: single quotes, with a quote inside doubled (OData ABNF SQUOTE-in-string). */
export function stringLiteral(value: string): string {
  if (typeof value !== 'string') throw invalid('String literal expected');
  return `'${value.replace(/'/g, "''")}'`;
}

export function numberLiteral(value: number): string {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw invalid(`Not a finite number: ${String(value)}`);
  return String(value);
}

export function booleanLiteral(value: boolean): string {
  if (typeof value !== 'boolean') throw invalid('Boolean literal expected');
  return value ? 'true' : 'false';
}

/** DateTimeOffset literal, unquoted, always UTC. */
export function dateLiteral(value: Date | string): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw invalid('Invalid date');
    return value.toISOString();
  }
  if (typeof value !== 'string' || !isoDatePattern.test(value) || Number.isNaN(Date.parse(value))) {
    throw invalid(`Not an ISO 8601 date: ${JSON.stringify(value)}`);
  }
  return value;
}

/** Wraps a GUID so the tagged filter renders it unquoted, as Dataverse expects for uniqueidentifier columns. */
export class GuidValue {
  constructor(readonly value: string) {
    guid(value);
  }
}

export const asGuid = (value: string): GuidValue => new GuidValue(value);

export type ODataValue = string | number | boolean | Date | GuidValue | null;

export function literal(value: ODataValue): string {
  if (value === null) return 'null';
  if (value instanceof GuidValue) return guid(value.value);
  if (value instanceof Date) return dateLiteral(value);
  switch (typeof value) {
    case 'string':
      return stringLiteral(value);
    case 'number':
      return numberLiteral(value);
    case 'boolean':
      return booleanLiteral(value);
    default:
      throw invalid(`Unsupported OData value type: ${typeof value}`);
  }
}

/** A fragment already known to be safe (built by the helpers below). */
export class FilterExpression {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/**
 * Tagged template: the template text is trusted code, every interpolated value becomes a literal.
 * odataFilter`emailaddress1 eq ${email} and modifiedon ge ${since}`
 */
export function odataFilter(
  strings: TemplateStringsArray,
  ...values: (ODataValue | FilterExpression)[]
): FilterExpression {
  let text = strings[0] ?? '';
  values.forEach((value, index) => {
    text += value instanceof FilterExpression ? `(${value.text})` : literal(value);
    text += strings[index + 1] ?? '';
  });
  return new FilterExpression(text);
}

export type ComparisonOperator = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';

export function compare(column: string, op: ComparisonOperator, value: ODataValue): FilterExpression {
  if (!['eq', 'ne', 'gt', 'ge', 'lt', 'le'].includes(op)) throw invalid(`Unknown operator ${String(op)}`);
  return new FilterExpression(`${identifier(column)} ${op} ${literal(value)}`);
}

export const eq = (column: string, value: ODataValue): FilterExpression => compare(column, 'eq', value);

export function contains(column: string, text: string): FilterExpression {
  return new FilterExpression(`contains(${identifier(column)},${stringLiteral(text)})`);
}

export function startsWith(column: string, text: string): FilterExpression {
  return new FilterExpression(`startswith(${identifier(column)},${stringLiteral(text)})`);
}

const join = (op: 'and' | 'or', parts: FilterExpression[]): FilterExpression => {
  if (parts.length === 0) throw invalid(`${op}() needs at least one clause`);
  if (parts.length === 1 && parts[0]) return parts[0];
  return new FilterExpression(parts.map((p) => `(${p.text})`).join(` ${op} `));
};

export const and = (...parts: FilterExpression[]): FilterExpression => join('and', parts);
export const or = (...parts: FilterExpression[]): FilterExpression => join('or', parts);

/** `$select` value: validated, de-duplicated, order kept. */
export function selectList(columns: readonly string[]): string {
  if (columns.length === 0) throw invalid('$select needs at least one column');
  return [...new Set(columns.map(identifier))].join(',');
}

export function orderBy(...keys: (string | [string, 'asc' | 'desc'])[]): string {
  return keys
    .map((key) => {
      if (typeof key === 'string') return identifier(key);
      const [column, direction] = key;
      if (direction !== 'asc' && direction !== 'desc')
        throw invalid(`Bad sort direction ${String(direction)}`);
      return `${identifier(column)} ${direction}`;
    })
    .join(',');
}

/** `contacts(<guid>)` or, for an alternate key, `contacts(emailaddress1='a@b.com')`. */
export function entityPath(entitySet: string, key: string | Record<string, ODataValue>): string {
  if (typeof key === 'string') return `${identifier(entitySet)}(${guid(key)})`;
  const entries = Object.entries(key);
  if (entries.length === 0) throw invalid('Alternate key needs at least one column');
  return `${identifier(entitySet)}(${entries.map(([k, v]) => `${identifier(k)}=${literal(v)}`).join(',')})`;
}

/**
 * Encodes a query object as `a=b&c=d` with RFC 3986 percent-encoding (spaces as %20, not '+'),
 * keeping `$` in option names readable.
 */
// Characters that are legal in a query component (RFC 3986 pchar) are left readable.
const readable: Record<string, string> = { '%2C': ',', '%3A': ':', '%40': '@', '%2F': '/', '%24': '$' };
const encodeValue = (text: string): string =>
  encodeURIComponent(text).replace(/%2C|%3A|%40|%2F|%24/g, (m) => readable[m] ?? m);

export function encodeQuery(
  query: Record<string, string | number | boolean | FilterExpression | undefined>,
): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    const text = value instanceof FilterExpression ? value.text : String(value);
    parts.push(`${encodeURIComponent(key).replace(/%24/g, '$')}=${encodeValue(text)}`);
  }
  return parts.join('&');
}
