export type TelemetryErrorCode = 'invalid_connection_string' | 'export_failed' | 'already_started';

/** Telemetry must never break a sync: callers log these and carry on. */
export class TelemetryError extends Error {
  override readonly name = 'TelemetryError';
  readonly retryable: boolean;

  constructor(
    readonly code: TelemetryErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? code === 'export_failed';
  }
}
