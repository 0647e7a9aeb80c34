import { useState } from 'preact/hooks';
import { api, type ErrorFilters, type RetryAnswer, type SyncError } from './api';
import { formatNumber, plural } from './format';
import { DataTable, SearchForm, SelectField, TextField } from './fields';
import { Ago, Confirm, Empty, ErrorBox, Loading, useAction, useLoad } from './ui';

const PAGE_SIZES = [25, 50, 100] as const;

const STATUS_OPTIONS = [
  ['open', 'Open'],
  ['resolved', 'Resolved'],
  ['all', 'All'],
] as const;

export const NO_FILTERS: ErrorFilters = { q: '', entity: '', status: 'open', code: '' };

const DIRECTION_TEXT: Record<SyncError['direction'], string> = {
  'dynamics-to-marketing': 'Dynamics → marketing',
  'marketing-to-dynamics': 'marketing → Dynamics',
  queue: 'queue message',
};

/** What a retry did, in one sentence. */
function retrySummary(answers: RetryAnswer[]): string {
  const queued = answers.reduce((n, a) => n + a.queued.length, 0);
  const unknown = answers.reduce((n, a) => n + a.unknown.length, 0);
  const skipped = answers.flatMap((a) => a.skipped);
  const parts = [
    queued === 0 ? 'Nothing was queued for a retry.' : `Retry queued for ${plural(queued, 'error')}.`,
  ];
  if (unknown > 0) parts.push(`${plural(unknown, 'error')} no longer exist.`);
  if (skipped.length > 0) {
    const reasons = [...new Set(skipped.map((s) => s.reason))].join('; ');
    parts.push(`${plural(skipped.length, 'error')} cannot be retried: ${reasons}.`);
  }
  if (queued > 0) parts.push('Refresh in a few seconds to see which are resolved.');
  return parts.join(' ');
}

/** Opened from the Status tab with an entity's filter: the App remounts it (by key) for new filters. */
export function ErrorsTab({ initial }: { initial: ErrorFilters }) {
  const [form, setForm] = useState<ErrorFilters>(initial);
  const [applied, setApplied] = useState<ErrorFilters>(initial);
  const [pageSize, setPageSize] = useState<number>(25);
  // tokens[i] is the continuation that opens page i (page 0 has none).
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState(0);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  // The entities "retry all" will retry, while its confirmation is open.
  const [retryTargets, setRetryTargets] = useState<string[] | undefined>(undefined);
  const [busy, run] = useAction();
  const entities = useLoad(async () => (await api.status()).entities);

  const result = useLoad(
    () => api.errors(applied, pageSize, tokens[page]),
    [applied, pageSize, page, tokens],
  );

  /** A filter field's name, value and change handler, bound to the form's state. */
  const bind = <K extends keyof ErrorFilters>(name: K) => ({
    name,
    value: form[name],
    onValue: (value: ErrorFilters[K]) => setForm({ ...form, [name]: value }),
  });

  function search(filters: ErrorFilters) {
    setApplied({ ...filters });
    setTokens([undefined]);
    setPage(0);
    setSelected(new Set());
  }

  const next = () => {
    const continuation = result.data?.continuation;
    if (continuation === undefined) return;
    setTokens((t) => [...t.slice(0, page + 1), continuation]);
    setPage(page + 1);
    setSelected(new Set());
  };

  const errors = result.data?.errors ?? [];
  const openOnPage = errors.filter((e) => e.resolvedAt === undefined);
  const allSelected = openOnPage.length > 0 && openOnPage.every((e) => selected.has(e.id));
  const toggle = (id: string) =>
    setSelected((s) => {
      const copy = new Set(s);
      if (copy.has(id)) copy.delete(id);
      else copy.add(id);
      return copy;
    });

  const afterRetry = (text: string) => {
    setSelected(new Set());
    // The re-read runs in the entity's session: give it a moment before looking again.
    setTimeout(() => void result.reload(), 2_000);
    return text;
  };
  const retrySelected = () =>
    void run(async () => afterRetry(retrySummary([await api.retryErrors({ errorIds: [...selected] })])));
  // Which entities have open errors is asked when the operator asks, not taken from an old answer.
  const askRetryAll = () =>
    void run(async () => {
      const targets =
        applied.entity !== ''
          ? [applied.entity]
          : (await api.status()).entities.filter((e) => e.openErrors > 0).map((e) => e.entity);
      if (targets.length === 0) return 'No entity has open errors to retry.';
      setRetryTargets(targets);
      return undefined;
    });
  const retryAll = (targets: readonly string[]) =>
    void run(async () => {
      const answers: RetryAnswer[] = [];
      for (const entity of targets) answers.push(await api.retryErrors({ all: true, entity }));
      return afterRetry(retrySummary(answers));
    });

  const filtered =
    applied.q !== '' || applied.entity !== '' || applied.code !== '' || applied.status !== 'open';
  const first = page * pageSize + 1;

  return (
    <div class="stack">
      <SearchForm label="Search errors" onSearch={() => search(form)}>
        <TextField
          label="Search"
          type="search"
          layout="grow"
          maxLength={200}
          placeholder="Record id, email, code or words of the message"
          {...bind('q')}
        />
        <SelectField
          label="Entity"
          options={[['', 'All entities'], ...(entities.data ?? []).map((e) => [e.entity, e.entity] as const)]}
          {...bind('entity')}
        />
        <SelectField label="Status" options={STATUS_OPTIONS} {...bind('status')} />
        <TextField label="Code" maxLength={100} placeholder="e.g. invalid_row" {...bind('code')} />
        <button type="submit" class="primary">
          Search
        </button>
      </SearchForm>

      <div class="row spread toolbar">
        <div class="row">
          <button type="button" disabled={busy || selected.size === 0} onClick={retrySelected}>
            Retry selected{selected.size > 0 ? ` (${formatNumber(selected.size)})` : ''}
          </button>
          <button type="button" disabled={busy || applied.status === 'resolved'} onClick={askRetryAll}>
            {applied.entity !== '' ? `Retry all open ${applied.entity} errors…` : 'Retry all open errors…'}
          </button>
          <a class="button" href={api.errorsCsvUrl(applied)} download>
            Export CSV
          </a>
        </div>
        <div class="row">
          <button type="button" onClick={() => void result.reload()} disabled={result.loading}>
            {result.loading ? 'Refreshing…' : 'Refresh'}
          </button>
          <SelectField
            label="Per page"
            layout="inline"
            value={String(pageSize)}
            options={PAGE_SIZES.map((n) => [String(n), String(n)] as const)}
            onValue={(size) => {
              setPageSize(Number(size));
              setTokens([undefined]);
              setPage(0);
            }}
          />
        </div>
      </div>

      {result.error !== undefined && <ErrorBox error={result.error} retry={() => void result.reload()} />}
      {result.data === undefined && result.error === undefined && <Loading>Searching the errors…</Loading>}
      {result.data !== undefined && errors.length === 0 && page === 0 && (
        <Empty title={filtered ? 'No errors match these filters.' : 'No open errors.'}>
          {filtered ? (
            <>
              <p>Try fewer words, another entity, or the status “All” to include resolved errors.</p>
              <button type="button" onClick={() => (setForm(NO_FILTERS), search(NO_FILTERS))}>
                Clear the filters
              </button>
            </>
          ) : (
            <p>
              Every row went through. When Dynamics or Cosmos DB refuses a row, it is listed here with what to
              fix.
            </p>
          )}
        </Empty>
      )}
      {errors.length > 0 && (
        <DataTable
          class="errors"
          describedBy="errors-range"
          busy={result.loading}
          columns={[
            {
              key: 'select',
              class: 'check',
              label: (
                <input
                  type="checkbox"
                  aria-label="Select every open error on this page"
                  checked={allSelected}
                  disabled={openOnPage.length === 0}
                  onChange={() => setSelected(allSelected ? new Set() : new Set(openOnPage.map((e) => e.id)))}
                />
              ),
            },
            'When',
            'Entity',
            'Code',
            'Record',
            'Message',
            'Status',
          ]}
        >
          {errors.map((e) => (
            <tr key={e.id} data-error-id={e.id} class={selected.has(e.id) ? 'selected' : ''}>
              <td class="check">
                <input
                  type="checkbox"
                  aria-label={`Select error ${e.code} of ${e.entity} ${e.recordId ?? ''}`}
                  checked={selected.has(e.id)}
                  disabled={e.resolvedAt !== undefined}
                  onChange={() => toggle(e.id)}
                />
              </td>
              <td>
                <Ago at={e.at} />
              </td>
              <td>
                {e.entity}
                <span class="muted small block">{DIRECTION_TEXT[e.direction]}</span>
              </td>
              <td>
                <code>{e.code}</code>
              </td>
              <td class="record">
                {e.recordId !== null ? <code class="id">{e.recordId}</code> : <span class="muted">–</span>}
                {e.email !== undefined && <span class="small block">{e.email}</span>}
              </td>
              <td class="message">
                {e.message}
                {e.excerpt !== undefined && (
                  <details>
                    <summary>Row excerpt</summary>
                    <pre>{e.excerpt}</pre>
                  </details>
                )}
              </td>
              <td>
                {e.resolvedAt !== undefined ? (
                  <span class="badge tone-good">
                    Resolved <Ago at={e.resolvedAt} />
                  </span>
                ) : (
                  <span class="badge tone-bad">Open</span>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {result.data !== undefined && (errors.length > 0 || page > 0) && (
        <nav class="row spread pager" aria-label="Pages of errors">
          <span id="errors-range" class="muted">
            {errors.length > 0
              ? `Showing ${formatNumber(first)}–${formatNumber(first + errors.length - 1)}`
              : 'No more errors'}
          </span>
          <span class="row">
            <button
              type="button"
              disabled={page === 0}
              onClick={() => (setPage(page - 1), setSelected(new Set()))}
            >
              Previous page
            </button>
            <span aria-current="page">Page {formatNumber(page + 1)}</span>
            <button type="button" disabled={result.data.continuation === undefined} onClick={next}>
              Next page
            </button>
          </span>
        </nav>
      )}
      <Confirm
        open={retryTargets !== undefined}
        title="Retry all open errors?"
        confirmLabel="Retry all"
        onClose={() => setRetryTargets(undefined)}
        onConfirm={() => retryTargets !== undefined && retryAll(retryTargets)}
      >
        <p>
          Every open error of {retryTargets?.join(', ')} is retried, whatever the search: failed rows are read
          from Dynamics again and failed pushes are sent again. Rows that still fail stay open.
        </p>
      </Confirm>
    </div>
  );
}
