import { AppError } from '../errors/app.errors';

export type TelemetryErrorCode = 'invalid_connection_string' | 'export_failed' | 'already_started';

/** Telemetry must never break a sync: callers log these and carry on. */
export class TelemetryError extends AppError<TelemetryErrorCode> {
  constructor(
    code: TelemetryErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super('TelemetryError', code, message, options.retryable ?? code === 'export_failed', options.cause);
  }
}
