import { redactSecrets } from './redact.text';

/**
 * The base of the project's error classes: a stable code a caller can branch on, and whether
 * trying again can help. Each boundary (Dataverse, Cosmos DB, the queue, configuration) narrows
 * `code` to its own closed union.
 */
export abstract class AppError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly retryable: boolean;

  protected constructor(name: string, code: Code, message: string, retryable: boolean, cause?: unknown) {
    // A message must say what failed even when the cause said nothing.
    super(
      redactSecrets(message.trim() === '' ? `${name} (${code})` : message),
      cause === undefined ? undefined : { cause },
    );
    this.name = name;
    this.code = code;
    this.retryable = retryable;
  }
}

const MAX_DESCRIPTION = 2000;

/**
 * One line that says what an error is, for logs, error records and people: never empty, never a
 * stack trace, never a secret. SDK errors often carry an empty message (a Cosmos DB 404 on a missing
 * container, a socket reset): their code, status and cause are used instead.
 */
export function describeError(error: unknown): string {
  const text = describe(error, 0).replace(/\s+/g, ' ').trim();
  const line = redactSecrets(text === '' ? 'unknown error (nothing was thrown with it)' : text);
  return line.length <= MAX_DESCRIPTION ? line : `${line.slice(0, MAX_DESCRIPTION - 1)}…`;
}

function describe(error: unknown, depth: number): string {
  if (typeof error === 'string') return error;
  if (error === null || error === undefined) return '';
  if (typeof error !== 'object') return String(error);
  if (error instanceof AggregateError && error.errors.length > 0) {
    const parts = error.errors.slice(0, 3).map((inner) => describe(inner, depth + 1));
    return [error.message, ...parts].filter((part) => part !== '').join('; ');
  }
  const { message, code, statusCode, status, cause, name } = error as {
    message?: unknown;
    code?: unknown;
    statusCode?: unknown;
    status?: unknown;
    cause?: unknown;
    name?: unknown;
  };
  const own = typeof message === 'string' ? message.trim() : '';
  if (own !== '') return own;
  const facts = [
    typeof name === 'string' && name !== 'Error' ? name : undefined,
    code !== undefined ? `code ${String(code)}` : undefined,
    statusCode !== undefined ? `status ${String(statusCode)}` : undefined,
    status !== undefined && status !== statusCode ? `status ${String(status)}` : undefined,
  ].filter((fact): fact is string => fact !== undefined);
  const inner = depth < 3 && cause !== undefined ? describe(cause, depth + 1) : '';
  if (facts.length === 0 && inner === '') {
    try {
      const json = JSON.stringify(error);
      return json === '{}' ? '' : json;
    } catch {
      return '';
    }
  }
  return [facts.join(', '), inner].filter((part) => part !== '').join(': ');
}

/** The error's stable code when it has one (ours, or an SDK's), else `failed`. */
export function errorCodeOf(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : 'failed';
}

/** Whether an error says trying again can help; anything that does not say so cannot. */
export function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
}

/** What a schema check found, on one line: `path: message; ...`, the first `max` issues. */
export function describeIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  options: { root?: string; max?: number } = {},
): string {
  const shown = issues.slice(0, options.max ?? 5);
  const text = shown
    .map((issue) => `${issue.path.map(String).join('.') || (options.root ?? '(document)')}: ${issue.message}`)
    .join('; ');
  return issues.length > shown.length ? `${text}; and ${issues.length - shown.length} more` : text;
}
