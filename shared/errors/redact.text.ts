/** Key names whose values are credentials, whatever they hold. */
const SECRET_KEY = /(secret|password|token|key|authorization|assertion|sig)$/i;

const SECRET_TEXT: [RegExp, string][] = [
  [/Bearer\s+[A-Za-z0-9\-._~+/]+=*/gi, 'Bearer [redacted]'],
  [/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, '[redacted-jwt]'],
  [/(SharedAccessKey|AccountKey|client_secret|access_token)=([^;&\s]+)/gi, '$1=[redacted]'],
  [/("(?:access_token|client_secret|refresh_token)"\s*:\s*)"[^"]*"/gi, '$1"[redacted]"'],
  // Lower case only, as OAuth forms and JSON bodies spell them: DATAVERSE_CLIENT_SECRET is a setting's name.
  [
    /((?:client_secret|access_token|client_assertion|password)["']?\s*[=:]\s*["']?)[^"'&\s,}]+/g,
    '$1[redacted]',
  ],
];

/** Bearer tokens, JWT-looking strings and secret-ish key/value pairs never reach a message or a log. */
export function redactSecrets(text: string): string {
  return SECRET_TEXT.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);
}

/** Strips anything that looks like a credential from a value about to be logged or stored. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value instanceof Error) return redactSecrets(`${value.name}: ${value.message}`);
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      SECRET_KEY.test(key) && item !== undefined && item !== null ? '[redacted]' : redact(item, depth + 1);
  }
  return out;
}
