import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import { formatDateTime, formatRelative } from './format';

/** What went wrong, in words for the operator: the API's message, or ours; never a stack trace. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return 'Something went wrong in the console. Reload the page and try again.';
}

// ------------------------------------------------------------------ the clock relative times use

/** One clock for the whole page, so every "3 min ago" moves on together. */
export const NowContext = createContext<number>(Date.now());

export function useNowTicker(intervalMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export function Ago({ at, fallback = 'never' }: { at: string | null | undefined; fallback?: string }) {
  const now = useContext(NowContext);
  if (at === null || at === undefined) return <span class="muted">{fallback}</span>;
  return (
    <time dateTime={at} title={formatDateTime(at)}>
      {formatRelative(at, now)}
    </time>
  );
}

// ------------------------------------------------------------------ notices

export interface Note {
  id: number;
  kind: 'success' | 'error' | 'info';
  text: string;
}

export type Notify = (kind: Note['kind'], text: string) => void;

export const NotifyContext = createContext<Notify>(() => undefined);

export const useNotify = (): Notify => useContext(NotifyContext);

/** The page's announcements: polite for results, assertive for failures, each dismissible. */
export function Notes({ notes, dismiss }: { notes: Note[]; dismiss: (id: number) => void }) {
  const polite = notes.filter((n) => n.kind !== 'error');
  const urgent = notes.filter((n) => n.kind === 'error');
  const list = (items: Note[]) =>
    items.map((note) => (
      <div key={note.id} class={`note note-${note.kind}`}>
        <span>{note.text}</span>
        <button type="button" class="link" onClick={() => dismiss(note.id)} aria-label="Dismiss this message">
          ×
        </button>
      </div>
    ));
  return (
    <div class="notes">
      <div role="status" aria-live="polite">
        {list(polite)}
      </div>
      <div role="alert" aria-live="assertive">
        {list(urgent)}
      </div>
    </div>
  );
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div class="problem" role="alert">
      <p>{messageOf(error)}</p>
      {retry !== undefined && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Loading({ children }: { children: ComponentChildren }) {
  return (
    <p class="loading" role="status">
      <span class="spinner" aria-hidden="true" />
      {children}
    </p>
  );
}

/** An empty state says what the empty place is for and what to do next. */
export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p class="empty-title">{title}</p>
      {children !== undefined && <div class="empty-hint">{children}</div>}
    </div>
  );
}

// ------------------------------------------------------------------ loading data

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
}

/**
 * Loads on mount, whenever one of `deps` (what `load` reads) changes, and on `reload`. A reload
 * always runs the latest `load`, and a late answer to an older request never overwrites a newer one.
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[] = []): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const latest = useRef(load);
  latest.current = load;
  const generation = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await latest.current();
      if (mine === generation.current) setState({ data, error: undefined, loading: false });
    } catch (error) {
      if (mine === generation.current) setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, []);
  useEffect(() => {
    void reload();
  }, deps);
  return { ...state, reload };
}

/** Runs an operator action: busy while it runs, its outcome announced, never thrown at the page. */
export function useAction(): [boolean, (run: () => Promise<string | undefined>) => Promise<boolean>] {
  const notify = useNotify();
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async (action: () => Promise<string | undefined>) => {
      setBusy(true);
      try {
        const done = await action();
        if (done !== undefined) notify('success', done);
        return true;
      } catch (error) {
        notify('error', messageOf(error));
        return false;
      } finally {
        setBusy(false);
      }
    },
    [notify],
  );
  return [busy, run];
}

// ------------------------------------------------------------------ confirmation

/**
 * A modal question before an action that is costly to undo. The native dialog keeps focus inside,
 * closes on Escape and gives focus back to the button that opened it.
 */
export function Confirm(props: {
  open: boolean;
  title: string;
  confirmLabel: string;
  children: ComponentChildren;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onClose={props.onClose}>
      <h2 id="confirm-title">{props.title}</h2>
      <div>{props.children}</div>
      <div class="row end">
        <button type="button" onClick={props.onClose}>
          Cancel
        </button>
        <button
          type="button"
          class="primary"
          onClick={() => {
            props.onConfirm();
            props.onClose();
          }}
        >
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
