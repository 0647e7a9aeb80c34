import * as crypto from 'node:crypto';

/** JSON with object keys sorted, so equal values always serialize (and hash) the same way. */
export function stableStringify(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableStringify(item)}`).join(',')}}`;
}

export function contentHash(value: unknown): string {
  return hashText(stableStringify(value));
}

// The one-shot crypto.hash (Node >= 20.12) skips the Hash object a row would otherwise allocate:
// about half the cost per row. Same digest either way.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string })
  .hash;

export function hashText(text: string): string {
  if (oneShot !== undefined) return oneShot('sha256', text, 'base64url');
  return crypto.createHash('sha256').update(text).digest('base64url');
}

export function sameValue(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}
