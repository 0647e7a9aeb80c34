/** Errors from the marketing database; `retryable` tells the caller whether a redelivery can help. */
export class CosmosStoreError extends Error {
  readonly code:
    'missing_container' | 'precondition_failed' | 'throttled' | 'unavailable' | 'invalid_document' | 'failed';
  readonly retryable: boolean;
  readonly status: number | undefined;

  constructor(
    code: CosmosStoreError['code'],
    message: string,
    options: { retryable?: boolean; status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'CosmosStoreError';
    this.code = code;
    this.status = options.status;
    this.retryable = options.retryable ?? (code === 'throttled' || code === 'unavailable');
  }

  /** Maps an @azure/cosmos ErrorResponse (or anything thrown) to our error, keeping the cause. */
  static from(error: unknown, context: string): CosmosStoreError {
    const status =
      typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    const numeric = typeof status === 'number' ? status : undefined;
    const message = `${context}: ${(error as Error)?.message ?? String(error)}`;
    if (numeric === 412)
      return new CosmosStoreError('precondition_failed', message, { status: numeric, cause: error });
    if (numeric === 429) return new CosmosStoreError('throttled', message, { status: numeric, cause: error });
    if (numeric === 404)
      return new CosmosStoreError('missing_container', message, { status: numeric, cause: error });
    if (numeric === undefined || numeric >= 500 || numeric === 408) {
      return new CosmosStoreError('unavailable', message, { status: numeric, cause: error });
    }
    return new CosmosStoreError('failed', message, { status: numeric, cause: error });
  }
}
