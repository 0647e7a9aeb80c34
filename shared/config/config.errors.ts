import { AppError } from '../errors/app.errors';

export type ConfigErrorCode = 'invalid_config' | 'invalid_sync_config' | 'unknown_entity' | 'not_provisioned';

/** Raised when the environment, the sync configuration file or the provisioned resources are unusable; never retryable. */
export class ConfigError extends AppError<ConfigErrorCode> {
  constructor(code: ConfigErrorCode, message: string, options: { cause?: unknown } = {}) {
    super('ConfigError', code, message, false, options.cause);
  }
}
