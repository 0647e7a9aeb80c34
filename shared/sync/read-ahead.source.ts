import type { ChangeSource } from './ports';

/**
 * Asks for the next page as soon as the caller takes the current one, so reading from Dataverse
 * overlaps with planning and writing: without it every page waits for the previous page's writes.
 * Pages still arrive in order and the checkpoint still moves only after a page is written; a job
 * that stops early (time budget) costs one page read that the next job repeats.
 */
export function readAhead(source: ChangeSource): ChangeSource {
  return {
    readChanges: (options) => prefetching(source.readChanges(options)),
    queryModifiedSince: (options) => prefetching(source.queryModifiedSince(options)),
    readRows: (options) => source.readRows(options),
    readRange: (options) => prefetching(source.readRange(options)),
  };
}

async function* prefetching<T>(pages: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = pages[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | undefined = iterator.next();
  try {
    for (;;) {
      const result: IteratorResult<T> = await pending;
      pending = undefined;
      if (result.done === true) return;
      pending = iterator.next();
      // Handled when awaited; this only stops an abandoned read from being an unhandled rejection.
      pending.catch(() => undefined);
      yield result.value;
    }
  } finally {
    if (pending !== undefined) {
      // Stopped early: let the read in flight settle, then close the source (it releases its resources).
      await pending.catch(() => undefined);
      await iterator.return?.();
    }
  }
}
