/** Resolves `%NAME%` binding expressions from app settings, as the Functions host does. */
export function resolveSetting(
  value: unknown,
  env: Record<string, string | undefined>,
  what: string,
): string {
  if (typeof value !== 'string' || value === '') throw new Error(`${what} is missing`);
  return value.replace(/%([^%]+)%/g, (_match, name: string) => {
    const resolved = env[name];
    if (resolved === undefined || resolved === '') {
      throw new Error(`${what} refers to app setting ${name}, which is not set`);
    }
    return resolved;
  });
}
