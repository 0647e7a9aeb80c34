import { z } from 'zod';
import { optionalText } from '../config/setting.values';

/**
 * Settings the telemetry code reads, beyond SETTING_NAMES in shared/config/env.schema.ts. The
 * infrastructure checks require the deployment to set every one of them.
 */
export const TELEMETRY_SETTING_NAMES = [
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  'AZURE_CLIENT_ID',
] as const;

export const telemetryEnvSchema = z.object({
  APPLICATIONINSIGHTS_CONNECTION_STRING: optionalText,
  /** `ClientId=<uami client id>;Authorization=AAD`: ingestion with an Entra token (local auth off). */
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: optionalText,
  AZURE_CLIENT_ID: optionalText,
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export type TelemetryEnv = z.output<typeof telemetryEnvSchema>;

/** Reads `ClientId=...;Authorization=AAD`; undefined when ingestion is not Entra-authenticated. */
export function parseAuthenticationString(
  value: string | undefined,
): { authorization: 'AAD'; clientId?: string } | undefined {
  if (value === undefined) return undefined;
  const parts = new Map(
    value
      .split(';')
      .map((part) => part.split('=').map((piece) => piece.trim()))
      .filter((pair): pair is [string, string] => pair.length === 2 && pair[0] !== '')
      .map(([key, item]) => [key.toLowerCase(), item] as const),
  );
  if (parts.get('authorization')?.toUpperCase() !== 'AAD') return undefined;
  const clientId = parts.get('clientid');
  return clientId === undefined || clientId === ''
    ? { authorization: 'AAD' }
    : { authorization: 'AAD', clientId };
}
