import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type EntityState, type EntityStatus, type PullMode, type SyncStatus } from './api';
import { ThroughputChart } from './chart';
import { formatDuration, formatNumber, plural } from './format';
import { DataTable, type Column } from './fields';
import { Ago, Confirm, Empty, ErrorBox, Loading, useAction, useLoad } from './ui';

/** Status refreshes itself this often while it is shown. */
const REFRESH_MS = 10_000;

const STATE_TEXT: Record<EntityState, string> = {
  synced: 'Synced',
  syncing: 'Syncing',
  paused: 'Paused',
  failing: 'Failing',
  never: 'Never synced',
};

/** The colour family of each state (styles.css `tone-*`); the icon and text say it without colour. */
const STATE_TONE: Record<EntityState, 'good' | 'info' | 'warn' | 'bad' | 'muted'> = {
  synced: 'good',
  syncing: 'info',
  paused: 'warn',
  failing: 'bad',
  never: 'muted',
};

const STATE_ICON: Record<EntityState, string> = {
  synced: '●',
  syncing: '◐',
  paused: '❚❚',
  failing: '▲',
  never: '○',
};

export function StateBadge({ state }: { state: EntityState }) {
  return (
    <span class={`badge tone-${STATE_TONE[state]}`}>
      <span aria-hidden="true">{STATE_ICON[state]}</span> {STATE_TEXT[state]}
    </span>
  );
}

const RUN_TEXT: Record<NonNullable<EntityStatus['lastRun']>['status'], string> = {
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  abandoned: 'Abandoned',
};

const ENTITY_COLUMNS: Column[] = [
  'Entity',
  'State',
  'Last run',
  'Last success',
  {
    label: 'Lag',
    class: 'num',
    title: 'Since the start of the last pull that reached the end of the changes',
  },
  { label: 'Read, 24 h', class: 'num' },
  {
    label: 'Push backlog',
    class: 'num',
    title: "People's edits waiting to be pushed; leads and contacts share them",
  },
  { label: 'Open errors', class: 'num' },
  { label: <span class="visually-hidden">Actions</span>, key: 'actions' },
];

const MODE_DONE: Record<PullMode, (entity: string) => string> = {
  now: (e) => `A pull of ${e} is queued; it runs in the next few seconds.`,
  resync: (e) => `A full reload of ${e} is queued.`,
  pause: (e) => `${e} is paused: scheduled pulls skip it until you resume it.`,
  resume: (e) => `${e} is resumed and a pull is queued.`,
};

export function StatusTab({ onShowErrors }: { onShowErrors: (entity: string) => void }) {
  const status = useLoad(() => api.status());
  const shown = useRef(false);
  useEffect(() => {
    const timer = setInterval(() => void status.reload(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [status.reload]);
  useEffect(() => {
    // How long the console takes to show the status: measured by the browser tests.
    if (status.data !== undefined && !shown.current) {
      shown.current = true;
      performance.mark('console:status-shown');
    }
  }, [status.data]);

  if (status.data === undefined) {
    if (status.error !== undefined)
      return <ErrorBox error={status.error} retry={() => void status.reload()} />;
    return <Loading>Loading the sync status…</Loading>;
  }
  const data = status.data;
  return (
    <div class="stack">
      {status.error !== undefined && <ErrorBox error={status.error} retry={() => void status.reload()} />}
      <div class="row spread">
        <p class="muted" aria-live="off">
          Updated <Ago at={data.at} /> · refreshes every {REFRESH_MS / 1000} s
        </p>
        <button type="button" onClick={() => void status.reload()} disabled={status.loading}>
          {status.loading ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      <Summary status={data} />
      <EntityTable status={data} onChanged={() => void status.reload()} onShowErrors={onShowErrors} />
      {data.entities.length > 0 && <ThroughputChart entities={data.entities} at={data.at} />}
    </div>
  );
}

function Summary({ status }: { status: SyncStatus }) {
  const synced = status.entities.filter((e) => e.state === 'synced').length;
  const open = status.entities.reduce((n, e) => n + e.openErrors, 0);
  const read = status.entities.reduce((n, e) => n + e.throughput.last24Hours.read, 0);
  const push = status.push;
  const backlog = push.pending + push.retrying;
  return (
    <dl class="cards">
      <div class={`card tone-${synced === status.entities.length ? 'good' : 'warn'}`}>
        <dt>Entities synced</dt>
        <dd>
          {formatNumber(synced)} <span class="muted">of {formatNumber(status.entities.length)}</span>
        </dd>
      </div>
      <div class={`card tone-${open === 0 ? 'good' : 'bad'}`}>
        <dt>Open errors</dt>
        <dd>{formatNumber(open)}</dd>
      </div>
      <div class={`card tone-${backlog === 0 ? 'good' : 'warn'}`}>
        <dt>Push backlog</dt>
        <dd>
          {formatNumber(backlog)}{' '}
          <span class="muted small">
            {push.oldestPendingAt !== null ? (
              <>
                oldest <Ago at={push.oldestPendingAt} />
              </>
            ) : (
              'nothing waiting'
            )}
          </span>
        </dd>
      </div>
      <div class={`card tone-${push.parked + push.failed === 0 ? 'good' : 'bad'}`}>
        <dt>Pushes parked or failed</dt>
        <dd>{formatNumber(push.parked + push.failed)}</dd>
      </div>
      <div class="card">
        <dt>Records read, 24 h</dt>
        <dd>{formatNumber(read)}</dd>
      </div>
    </dl>
  );
}

function EntityTable(props: {
  status: SyncStatus;
  onChanged: () => void;
  onShowErrors: (entity: string) => void;
}) {
  const [resync, setResync] = useState<string | undefined>(undefined);
  const [busy, run] = useAction();
  const request = (entity: string, mode: PullMode) =>
    void run(async () => {
      await api.requestPull(entity, mode);
      props.onChanged();
      return MODE_DONE[mode](entity);
    });

  if (props.status.entities.length === 0) {
    return (
      <Empty title="No entities are synced.">
        Set <code>SYNC_ENTITIES</code> in the app settings (for example <code>lead,contact,account</code>) and
        restart the Functions app.
      </Empty>
    );
  }
  return (
    <section aria-labelledby="entities-title">
      <h2 id="entities-title">Entities</h2>
      <DataTable class="entities" columns={ENTITY_COLUMNS}>
        {props.status.entities.map((e) => (
          <EntityRow
            key={e.entity}
            entity={e}
            backlog={e.direction === 'both' ? props.status.push.pending + props.status.push.retrying : null}
            busy={busy}
            onRequest={request}
            onResync={() => setResync(e.entity)}
            onShowErrors={props.onShowErrors}
          />
        ))}
      </DataTable>
      <Confirm
        open={resync !== undefined}
        title={`Resync ${resync ?? ''}?`}
        confirmLabel="Resync"
        onClose={() => setResync(undefined)}
        onConfirm={() => resync !== undefined && request(resync, 'resync')}
      >
        <p>
          Every {resync} row is read from Dynamics again and compared with the marketing copy. On a large
          table this takes a while and uses Dynamics request capacity; nothing is lost meanwhile.
        </p>
      </Confirm>
    </section>
  );
}

function EntityRow(props: {
  entity: EntityStatus;
  backlog: number | null;
  busy: boolean;
  onRequest: (entity: string, mode: PullMode) => void;
  onResync: () => void;
  onShowErrors: (entity: string) => void;
}) {
  const e = props.entity;
  const run = e.lastRun;
  return (
    <tr data-entity={e.entity} class={`tone-${STATE_TONE[e.state]}`}>
      <th scope="row">
        {e.entity}
        <span class="muted small block">{e.direction === 'both' ? 'both ways' : 'from Dynamics'}</span>
      </th>
      <td>
        <StateBadge state={e.state} />
        {e.paused !== null && <span class="small block">{e.paused.reason}</span>}
      </td>
      <td>
        {run === null ? (
          <span class="muted">No run yet</span>
        ) : (
          <>
            {RUN_TEXT[run.status]} · <Ago at={run.finishedAt ?? run.startedAt} />
            <span class="muted small block">
              {formatNumber(run.read)} read, {formatNumber(run.written)} written
            </span>
            {run.error !== null && <span class="small block text-bad">{run.error.message}</span>}
          </>
        )}
      </td>
      <td>
        <Ago at={e.lastSuccessAt} />
      </td>
      <td class="num">
        {e.lagSeconds === null ? <span class="muted">–</span> : formatDuration(e.lagSeconds)}
      </td>
      <td class="num">{formatNumber(e.throughput.last24Hours.read)}</td>
      <td
        class="num"
        title={
          props.backlog === null ? 'Pulled only: nothing is pushed' : 'Edits of people waiting to be pushed'
        }
      >
        {props.backlog === null ? <span class="muted">–</span> : formatNumber(props.backlog)}
      </td>
      <td class="num">
        {e.openErrors === 0 ? (
          '0'
        ) : (
          <button type="button" class="link text-bad" onClick={() => props.onShowErrors(e.entity)}>
            {plural(e.openErrors, 'error')}
            <span class="visually-hidden"> of {e.entity}: show them</span>
          </button>
        )}
      </td>
      <td class="actions">
        <button type="button" disabled={props.busy} onClick={() => props.onRequest(e.entity, 'now')}>
          Sync now<span class="visually-hidden"> {e.entity}</span>
        </button>
        <button type="button" disabled={props.busy} onClick={props.onResync}>
          Resync…<span class="visually-hidden"> {e.entity}</span>
        </button>
        {e.paused !== null ? (
          <button type="button" disabled={props.busy} onClick={() => props.onRequest(e.entity, 'resume')}>
            Resume<span class="visually-hidden"> {e.entity}</span>
          </button>
        ) : (
          <button type="button" disabled={props.busy} onClick={() => props.onRequest(e.entity, 'pause')}>
            Pause<span class="visually-hidden"> {e.entity}</span>
          </button>
        )}
      </td>
    </tr>
  );
}
