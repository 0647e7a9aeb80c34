/** What a suite starts and closes again: simulators, stand-ins, stacks, fixtures. */
export interface Closable {
  close(): Promise<void>;
}

export interface UseOptions<T> {
  /** Start before each test and stop after it, instead of once for the describe. */
  each?: boolean;
  /** How to stop what was started; defaults to its close(). */
  stop?: (value: T) => Promise<void>;
}

/**
 * Starts something in a beforeAll (beforeEach with `each`) of the enclosing describe and stops it
 * in the matching afterAll (afterEach). Returns a getter for the hooks and tests registered after
 * this call; it throws outside them, where there is nothing started to read. A start that failed
 * leaves nothing to stop, so the failure is reported as it is.
 */
export function useStarted<T extends Closable>(start: () => Promise<T>, options?: UseOptions<T>): () => T;
export function useStarted<T>(
  start: () => Promise<T>,
  options: UseOptions<T> & { stop: (value: T) => Promise<void> },
): () => T;
export function useStarted<T>(start: () => Promise<T>, options: UseOptions<T> = {}): () => T {
  const stop = options.stop ?? ((value: T) => (value as unknown as Closable).close());
  let current: { value: T } | undefined;
  (options.each ? beforeEach : beforeAll)(async () => {
    current = { value: await start() };
  });
  (options.each ? afterEach : afterAll)(async () => {
    const started = current;
    current = undefined;
    if (started) await stop(started.value);
  });
  return () => {
    if (!current) throw new Error('useStarted: read outside the hooks and tests of its describe');
    return current.value;
  };
}
