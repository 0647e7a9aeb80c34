/**
 * The one place that decides what of a value may be shown: log lines, error messages, error records
 * and configuration errors all go through it. Two rules: a value under a key whose name says
 * "credential" is hidden whatever it holds, and text that looks like a credential is hidden wherever
 * it is.
 */

// Compared with the name flattened (no separators, lower case), so clientSecret, client_secret and
// DATAVERSE_CLIENT_SECRET are one rule. A suffix, so SharedAccessKeyName (a name, not a secret) stays.
const SECRET_KEY_SUFFIX =
  /(secret|password|passwd|pwd|token|key|authorization|assertion|sig|signature|credential|credentials|connectionstring)$/;

/** Whether a key's value is a credential, whatever it holds (clientSecret, AccountKey, sig, password...). */
export function isSecretKey(name: string): boolean {
  return SECRET_KEY_SUFFIX.test(name.replace(/[^A-Za-z0-9]/g, '').toLowerCase());
}

const REDACTED = '[redacted]';

const SECRET_TEXT: [RegExp, string | ((...groups: string[]) => string)][] = [
  [/Bearer\s+[A-Za-z0-9\-._~+/]+=*/gi, `Bearer ${REDACTED}`],
  [/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
  // user:password@ in a URL; a user name alone (user@host) is left: it is an address, not a secret.
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@:]*:[^\s/?#@]*@/gi, `$1${REDACTED}@`],
  // name=value pairs of connection strings, query strings and forms: AccountKey=, sig=, client_secret=.
  [
    /(^|[\s?&;,(])([A-Za-z][\w.-]*)=([^;&\s"',)]*)/g,
    (whole, lead: string, name: string) => (isSecretKey(name) ? `${lead}${name}=${REDACTED}` : whole),
  ],
  // "name": "value" in JSON, by the name's meaning: "clientSecret", "password", "refresh_token".
  [
    /("([A-Za-z][\w.-]*)"\s*:\s*)"(?:[^"\\]|\\.)*"/g,
    (whole, head: string, name: string) => (isSecretKey(name) ? `${head}"${REDACTED}"` : whole),
  ],
  // Lower case only, as OAuth forms and logs spell them: DATAVERSE_CLIENT_SECRET: is a setting's name.
  [
    /((?:client_secret|access_token|client_assertion|password)["']?\s*:\s*["']?)[^"'&\s,}]+/g,
    `$1${REDACTED}`,
  ],
];

/** Bearer tokens, JWT-looking strings, URL passwords and secret-named values never reach a message or a log. */
export function redactSecrets(text: string): string {
  return SECRET_TEXT.reduce(
    (out, [pattern, replacement]) =>
      typeof replacement === 'string'
        ? out.replace(pattern, replacement)
        : out.replace(pattern, replacement as (...groups: string[]) => string),
    text,
  );
}

const MAX_SETTING_ECHO = 80;

/**
 * What an error may show of a setting's value. Stricter than redactSecrets: a URL loses its user
 * name, password, query string and fragment (any of them can carry a credential), a connection
 * string its secret-named parts, and what is left is cut short.
 */
export function redactSettingValue(value: string): string {
  const shown = redactSecrets(
    value.replace(
      /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#]*@)?([^\s?#;]*)(\?[^\s#;]*)?(#[^\s;]*)?/gi,
      (_whole, scheme: string, userinfo?: string, rest?: string, query?: string, fragment?: string) =>
        `${scheme}${userinfo ? `${REDACTED}@` : ''}${rest ?? ''}${query ? `?${REDACTED}` : ''}${fragment ? `#${REDACTED}` : ''}`,
    ),
  );
  return shown.length <= MAX_SETTING_ECHO ? shown : `${shown.slice(0, MAX_SETTING_ECHO - 1)}…`;
}

/** Strips anything that looks like a credential from a value about to be logged or stored. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value instanceof Error) return redactSecrets(`${value.name}: ${value.message}`);
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSecretKey(key) && item !== undefined && item !== null ? REDACTED : redact(item, depth + 1);
  }
  return out;
}
