/** Raised when the environment or the sync configuration file is unusable; never retryable. */
export class ConfigError extends Error {
  readonly code: 'invalid_config' | 'invalid_sync_config' | 'unknown_entity';
  readonly retryable = false;

  constructor(code: ConfigError['code'], message: string) {
    super(message);
    this.name = 'ConfigError';
    this.code = code;
  }
}
