import { isSecretKey, redact, redactSecrets } from './redact.text';

/** Characters of one value an excerpt keeps: enough to recognise a bad value, too few to copy a record. */
const MAX_VALUE = 60;
const MAX_EXCERPT = 500;
/** Failing fields an excerpt names; the message lists the issues themselves. */
const MAX_FIELDS = 10;

/** A field inside a value, as a schema issue names it: `['dynamics', 'etag']`. */
export type FieldPath = readonly PropertyKey[];

/** A schema issue as zod reports it; unrecognized keys name theirs in `keys`. */
interface Issue {
  path: readonly PropertyKey[];
  code?: string;
  keys?: readonly string[];
}

/** The fields a schema check failed on, an unrecognized key being a field of its own. */
export function failingPaths(issues: readonly Issue[]): FieldPath[] {
  const paths = issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' && issue.keys !== undefined
      ? issue.keys.map((key) => [...issue.path, key])
      : [issue.path],
  );
  const seen = new Set<string>();
  return paths.filter((path) => {
    const name = path.map(String).join('.');
    if (name === '' || seen.has(name)) return false;
    seen.add(name);
    return true;
  });
}

function valueAt(source: unknown, path: FieldPath): unknown {
  let value = source;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

function cut(text: string): string {
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE)}...` : text;
}

/** One value as an excerpt shows it: hidden under a secret-like name, else redacted and cut short. */
function shown(path: FieldPath, value: unknown): unknown {
  if (value === undefined) return '(missing)';
  if (value !== null && path.some((part) => typeof part === 'string' && isSecretKey(part))) {
    return '[redacted]';
  }
  if (typeof value === 'string') return cut(redactSecrets(value));
  if (value !== null && typeof value === 'object') return cut(redactSecrets(JSON.stringify(redact(value))));
  return value;
}

/** What a value that is not an object is, without its content. */
function kindOf(source: unknown): string {
  if (Array.isArray(source)) return `(an array of ${source.length} items)`;
  if (typeof source === 'string') return `(text of ${source.length} characters)`;
  return `(${source === null ? 'null' : typeof source})`;
}

/**
 * What an error record keeps of a document, a row or a message body: its key and the fields that
 * failed, never the rest, which holds personal data (names, emails, phones) the error does not
 * need. Each value is cut short and stripped of credentials, by its key's name (clientSecret,
 * password...) and by pattern (bearer tokens, AccountKey=...).
 */
export function errorExcerpt(source: unknown, keys: readonly string[], paths: readonly FieldPath[]): string {
  if (source === null || typeof source !== 'object' || Array.isArray(source)) return kindOf(source);
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = shown([key], (source as Record<string, unknown>)[key]);
  for (const path of paths.slice(0, MAX_FIELDS))
    out[path.map(String).join('.')] = shown(path, valueAt(source, path));
  if (paths.length > MAX_FIELDS) out['(more fields)'] = paths.length - MAX_FIELDS;
  const text = JSON.stringify(out);
  return text.length <= MAX_EXCERPT ? text : `${text.slice(0, MAX_EXCERPT - 1)}…`;
}

/** Text that is not JSON: what looks like a credential removed, kept short. */
export function textExcerpt(text: string, max = 200): string {
  const clean = redactSecrets(text);
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}
