import { AppError, describeError } from '../errors/app.errors';

export type CosmosStoreErrorCode =
  'missing_container' | 'precondition_failed' | 'throttled' | 'unavailable' | 'invalid_document' | 'failed';

/** Errors from the marketing database; `retryable` tells the caller whether a redelivery can help. */
export class CosmosStoreError extends AppError<CosmosStoreErrorCode> {
  readonly status: number | undefined;

  constructor(
    code: CosmosStoreErrorCode,
    message: string,
    options: { retryable?: boolean; status?: number; cause?: unknown } = {},
  ) {
    super(
      'CosmosStoreError',
      code,
      message,
      options.retryable ?? (code === 'throttled' || code === 'unavailable'),
      options.cause,
    );
    this.status = options.status;
  }

  /**
   * Maps an @azure/cosmos ErrorResponse (or anything thrown) to our error, keeping the cause. The
   * SDK's own messages are often empty (a 404 on a missing container), so the message always says
   * what the status means and what to do about it.
   */
  static from(error: unknown, context: string): CosmosStoreError {
    const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    const status = typeof code === 'number' ? code : undefined;
    const detail = describeError(error);
    const message = (meaning: string) => `${context}: ${meaning} (${detail})`;
    if (status === 412) {
      return new CosmosStoreError('precondition_failed', message('the document changed meanwhile'), {
        status,
        cause: error,
      });
    }
    if (status === 429) {
      return new CosmosStoreError('throttled', message('Cosmos DB is throttling; retried later'), {
        status,
        cause: error,
      });
    }
    if (status === 404) {
      return new CosmosStoreError(
        'missing_container',
        message(
          'the database or container does not exist; create them with `dynamics-sync provision` (in Azure the infrastructure creates them)',
        ),
        { status, cause: error },
      );
    }
    if ((status !== undefined && (status >= 500 || status === 408)) || isNetworkError(error)) {
      return new CosmosStoreError('unavailable', message('Cosmos DB did not answer; retried later'), {
        status,
        cause: error,
      });
    }
    // Anything else, a client-side refusal by the SDK included (an id it cannot send, a malformed
    // query), fails the same way on every attempt: retrying it only delays the error.
    return new CosmosStoreError('failed', message('Cosmos DB refused the request'), {
      ...(status !== undefined ? { status } : {}),
      cause: error,
    });
  }
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** A request that never got an answer: the connection failed or timed out. */
function isNetworkError(error: unknown): boolean {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 4; depth += 1) {
    if (typeof current !== 'object') return false;
    const { code, name, cause } = current as { code?: unknown; name?: unknown; cause?: unknown };
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    if (name === 'AbortError' || name === 'TimeoutError') return true;
    current = cause;
  }
  return false;
}
