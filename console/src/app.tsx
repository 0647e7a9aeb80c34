import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { ErrorFilters } from './api';
import { ErrorsTab, NO_FILTERS } from './errors.tab';
import { PersonTab } from './person.tab';
import { StatusTab } from './status.tab';
import { Notes, NotifyContext, NowContext, useNowTicker, type Note } from './ui';
import { ValidateTab } from './validate.tab';

const TABS = [
  { id: 'status', label: 'Status' },
  { id: 'errors', label: 'Errors' },
  { id: 'person', label: 'Person' },
  { id: 'validate', label: 'Validate' },
] as const;

type TabId = (typeof TABS)[number]['id'];

const tabFromHash = (): TabId => {
  const id = location.hash.replace(/^#/, '');
  return TABS.find((t) => t.id === id)?.id ?? 'status';
};

/** Successes fade after this; failures stay until dismissed. */
const NOTE_MS = 8_000;

export function App() {
  const [tab, setTab] = useState<TabId>(tabFromHash);
  // A tab is kept once opened, so its filters and form survive switching tabs.
  const [opened, setOpened] = useState<ReadonlySet<TabId>>(new Set([tabFromHash()]));
  const [errorFilters, setErrorFilters] = useState<{ key: number; filters: ErrorFilters }>({
    key: 0,
    filters: NO_FILTERS,
  });
  const [notes, setNotes] = useState<Note[]>([]);
  const nextNote = useRef(1);
  const tabs = useRef<(HTMLButtonElement | null)[]>([]);
  const now = useNowTicker(15_000);

  const show = useCallback((id: TabId) => {
    setTab(id);
    setOpened((o) => (o.has(id) ? o : new Set([...o, id])));
    if (location.hash !== `#${id}`) history.replaceState(null, '', `#${id}`);
  }, []);

  useEffect(() => {
    const onHash = () => show(tabFromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, [show]);

  const dismiss = useCallback((id: number) => setNotes((n) => n.filter((note) => note.id !== id)), []);
  const notify = useCallback(
    (kind: Note['kind'], text: string) => {
      const id = nextNote.current++;
      setNotes((n) => [...n.slice(-4), { id, kind, text }]);
      if (kind !== 'error') setTimeout(() => dismiss(id), NOTE_MS);
    },
    [dismiss],
  );

  const showErrors = useCallback(
    (entity: string) => {
      setErrorFilters((f) => ({ key: f.key + 1, filters: { ...NO_FILTERS, entity } }));
      show('errors');
    },
    [show],
  );

  /** Arrow keys, Home and End move between tabs, as the WAI-ARIA tabs pattern has it. */
  const onKeyDown = (event: KeyboardEvent) => {
    const index = TABS.findIndex((t) => t.id === tab);
    const moves: Record<string, number> = {
      ArrowRight: (index + 1) % TABS.length,
      ArrowLeft: (index - 1 + TABS.length) % TABS.length,
      Home: 0,
      End: TABS.length - 1,
    };
    const target = moves[event.key];
    const next = target === undefined ? undefined : TABS[target];
    if (next === undefined || target === undefined) return;
    event.preventDefault();
    show(next.id);
    tabs.current[target]?.focus();
  };

  return (
    <NowContext.Provider value={now}>
      <NotifyContext.Provider value={notify}>
        <header class="top">
          <h1>
            Dynamics ↔ marketing sync <span class="muted">console</span>
          </h1>
          <div role="tablist" aria-label="Console sections" onKeyDown={onKeyDown}>
            {TABS.map((t, i) => (
              <button
                key={t.id}
                ref={(el) => {
                  tabs.current[i] = el;
                }}
                type="button"
                role="tab"
                id={`tab-${t.id}`}
                aria-controls={`panel-${t.id}`}
                aria-selected={tab === t.id}
                tabIndex={tab === t.id ? 0 : -1}
                onClick={() => show(t.id)}
              >
                {t.label}
              </button>
            ))}
          </div>
        </header>
        <Notes notes={notes} dismiss={dismiss} />
        <main>
          {TABS.map((t) =>
            opened.has(t.id) ? (
              <section
                key={t.id}
                role="tabpanel"
                id={`panel-${t.id}`}
                aria-labelledby={`tab-${t.id}`}
                hidden={tab !== t.id}
                tabIndex={0}
              >
                {t.id === 'status' && <StatusTab onShowErrors={showErrors} />}
                {t.id === 'errors' && <ErrorsTab key={errorFilters.key} initial={errorFilters.filters} />}
                {t.id === 'person' && <PersonTab />}
                {t.id === 'validate' && <ValidateTab />}
              </section>
            ) : null,
          )}
        </main>
      </NotifyContext.Provider>
    </NowContext.Provider>
  );
}
