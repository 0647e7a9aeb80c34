import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiError, type FieldValue, type FieldValues, type PersonView } from './api';
import { formatNumber } from './format';
import { DataTable, SearchForm, SelectField, TextField } from './fields';
import { Ago, Empty, ErrorBox, Loading, useAction } from './ui';

const OWNER_TYPES = [
  ['systemuser', 'User'],
  ['team', 'Team'],
] as const;

const PRIORITIES = [
  ['low', 'Low'],
  ['normal', 'Normal'],
  ['high', 'High'],
] as const;

const GUID_PATTERN = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';

/** `jobTitle` → "Job title". */
export const fieldLabel = (name: string): string => {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

export function displayValue(value: FieldValue | undefined): string {
  if (value === null || value === undefined || value === '') return '';
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return value;
  if ('id' in value) return value.table !== null ? `${value.table} ${value.id}` : value.id;
  return value.label ?? (Array.isArray(value.value) ? value.value.join(', ') : String(value.value));
}

/** Equal as the operator would judge them: by what is shown, case and spacing aside for text. */
const same = (a: FieldValue | undefined, b: FieldValue | undefined): boolean =>
  displayValue(a).trim().toLowerCase() === displayValue(b).trim().toLowerCase();

const nameOf = (p: PersonView): string => {
  const v = { ...(p.dynamics?.values ?? {}), ...p.marketing };
  const name = [displayValue(v.firstName), displayValue(v.lastName)].filter(Boolean).join(' ');
  return name || displayValue(v.email) || p.id;
};

type Lookup =
  | { kind: 'idle' }
  | { kind: 'loading' }
  | { kind: 'error'; error: unknown }
  | { kind: 'none'; query: string }
  | { kind: 'many'; persons: PersonView[] }
  | { kind: 'one'; person: PersonView };

export function PersonTab() {
  const [query, setQuery] = useState('');
  const [lookup, setLookup] = useState<Lookup>({ kind: 'idle' });

  async function find(text: string) {
    const q = text.trim();
    if (q === '') return;
    setLookup({ kind: 'loading' });
    try {
      if (q.includes('@')) {
        const { persons } = await api.personsByEmail(q);
        const only = persons[0];
        if (persons.length === 1 && only !== undefined) setLookup({ kind: 'one', person: only });
        else setLookup(persons.length === 0 ? { kind: 'none', query: q } : { kind: 'many', persons });
      } else {
        setLookup({ kind: 'one', person: await api.person(q) });
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) setLookup({ kind: 'none', query: q });
      else setLookup({ kind: 'error', error });
    }
  }

  const reload = async (id: string) => {
    try {
      setLookup({ kind: 'one', person: await api.person(id) });
    } catch (error) {
      setLookup({ kind: 'error', error });
    }
  };

  return (
    <div class="stack">
      <SearchForm label="Look up a person" onSearch={() => void find(query)}>
        <TextField
          label="Email or person id"
          type="search"
          name="person"
          layout="grow"
          required
          maxLength={320}
          placeholder="ada@example.com or the person's id"
          value={query}
          onValue={setQuery}
        />
        <button type="submit" class="primary">
          Look up
        </button>
      </SearchForm>
      {lookup.kind === 'idle' && (
        <Empty title="Look up a person to see both sides.">
          Enter an email address or a person id. The marketing record and the live Dynamics row are shown side
          by side, with the differences marked.
        </Empty>
      )}
      {lookup.kind === 'loading' && <Loading>Reading the person and its Dynamics row…</Loading>}
      {lookup.kind === 'error' && <ErrorBox error={lookup.error} retry={() => void find(query)} />}
      {lookup.kind === 'none' && (
        <Empty title={`No person found for “${lookup.query}”.`}>
          Check the spelling. A person appears once its lead or contact has been pulled; the Errors tab lists
          rows that could not be.
        </Empty>
      )}
      {lookup.kind === 'many' && (
        <section aria-labelledby="matches-title">
          <h2 id="matches-title">{formatNumber(lookup.persons.length)} people share this email</h2>
          <ul class="plain">
            {lookup.persons.map((p) => (
              <li key={p.id}>
                <button type="button" class="link" onClick={() => setLookup({ kind: 'one', person: p })}>
                  {nameOf(p)}
                </button>{' '}
                <span class="muted small">
                  {p.type ?? 'marketing only'} · {p.id}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {lookup.kind === 'one' && <Person person={lookup.person} reload={() => reload(lookup.person.id)} />}
    </div>
  );
}

function Person({ person, reload }: { person: PersonView; reload: () => Promise<void> }) {
  const [busy, run] = useAction();
  const table = person.dynamics?.table ?? person.type;
  const flags = [
    person.flags.excluded && 'excluded from the sync',
    person.flags.deletedInDynamics && 'deleted in Dynamics',
    person.flags.mergedInto !== null && `merged into ${person.flags.mergedInto}`,
    person.flags.forgotten && 'forgotten (personal data removed)',
  ].filter((f): f is string => typeof f === 'string');

  const syncNow = () =>
    void run(async () => {
      const done: string[] = [];
      if (Object.keys(person.pendingEdits).length > 0 || person.push !== null) {
        await api.pushRetry([person.id]);
        done.push('its edits are being pushed to Dynamics');
      }
      if (table !== null) {
        await api.requestPull(table, 'now');
        done.push(`a pull of ${table} is queued`);
      }
      setTimeout(() => void reload(), 3_000);
      return done.length > 0
        ? `Sync started: ${done.join(' and ')}.`
        : 'Nothing to sync: this person is on the marketing side only. Use “Sync to Dynamics” to create it there.';
    });

  return (
    <article class="stack person" aria-labelledby="person-title">
      <header class="row spread">
        <div>
          <h2 id="person-title">{nameOf(person)}</h2>
          <p class="muted small">
            <span class="badge">{person.type ?? 'marketing only'}</span> person id <code>{person.id}</code>
            {person.dynamics !== null && (
              <>
                {' '}
                · Dynamics {person.dynamics.table} <code>{person.dynamics.rowId}</code>
              </>
            )}
          </p>
          {flags.length > 0 && <p class="text-warn">This person is {flags.join(', ')}.</p>}
        </div>
        <div class="row">
          <button type="button" disabled={busy} onClick={syncNow}>
            Sync now
          </button>
          <button type="button" onClick={() => void reload()}>
            Reload
          </button>
        </div>
      </header>
      {person.push !== null && (
        <p class="problem" role="note">
          Push {person.push.status}
          {person.push.at !== undefined && (
            <>
              {' '}
              <Ago at={person.push.at} />
            </>
          )}
          {person.push.message !== undefined && `: ${person.push.message}`}
        </p>
      )}
      {person.dynamics !== null && !person.dynamics.live && (
        <p class="problem" role="note">
          Dynamics could not be read ({person.dynamics.error ?? 'no answer'}): its column shows the copy
          stored at the last sync.
        </p>
      )}
      <Comparison person={person} />
      {person.openErrors.length > 0 && (
        <section aria-labelledby="person-errors">
          <h3 id="person-errors">Open errors</h3>
          <ul class="plain">
            {person.openErrors.map((e) => (
              <li key={e.id}>
                <code>{e.code}</code> {e.message} <Ago at={e.at} />
              </li>
            ))}
          </ul>
        </section>
      )}
      <div class="actions-grid">
        <SyncToDynamics person={person} busy={busy} run={run} reload={reload} />
        <ChangeOwner person={person} busy={busy} run={run} reload={reload} />
        <CreateTask person={person} busy={busy} run={run} reload={reload} />
      </div>
    </article>
  );
}

function Comparison({ person }: { person: PersonView }) {
  const dynamics: FieldValues = person.dynamics?.values ?? {};
  const names = [...new Set([...Object.keys(person.marketing), ...Object.keys(dynamics)])];
  const linked = person.dynamics !== null;
  const differing = linked ? names.filter((n) => !same(person.marketing[n], dynamics[n])) : [];
  const empty = <span class="muted">empty</span>;
  if (names.length === 0) return <Empty title="This person has no synced fields yet." />;
  return (
    <section aria-labelledby="compare-title">
      <h3 id="compare-title">
        Marketing and Dynamics side by side{' '}
        <span class="muted small">
          {linked
            ? differing.length === 0
              ? '· both sides agree'
              : `· ${formatNumber(differing.length)} ${differing.length === 1 ? 'field differs' : 'fields differ'}`
            : '· not in Dynamics yet'}
        </span>
      </h3>
      <DataTable
        class="compare"
        columns={[
          'Field',
          'Marketing',
          `Dynamics${person.dynamics !== null && !person.dynamics.live ? ' (stored copy)' : ''}`,
        ]}
      >
        {names.map((name) => {
          const differs = differing.includes(name);
          const pending = Object.hasOwn(person.pendingEdits, name);
          return (
            <tr key={name} class={differs ? 'differs' : ''} data-field={name}>
              <th scope="row">
                {fieldLabel(name)}
                {differs && <span class="tag tag-diff">differs</span>}
                {pending && <span class="tag">edit waiting to be pushed</span>}
              </th>
              <td>{displayValue(person.marketing[name]) || empty}</td>
              <td>{linked ? displayValue(dynamics[name]) || empty : <span class="muted">–</span>}</td>
            </tr>
          );
        })}
      </DataTable>
    </section>
  );
}

type Run = (action: () => Promise<string | undefined>) => Promise<boolean>;

interface ActionProps {
  person: PersonView;
  busy: boolean;
  run: Run;
  reload: () => Promise<void>;
}

/**
 * One person action: a titled form whose submit runs `action` and announces what it returns.
 * Some actions need the person in Dynamics, one needs it not there yet: the other case disables
 * every field and says why.
 */
function ActionForm(
  props: ActionProps & {
    id: string;
    title: string;
    needs: 'linked' | 'unlinked';
    intro: { linked: string; unlinked: string };
    action: () => Promise<string>;
    children: ComponentChildren;
  },
) {
  const linked = props.person.dynamics !== null;
  const enabled = linked === (props.needs === 'linked');
  return (
    <form
      class="card action"
      aria-labelledby={props.id}
      onSubmit={(event) => {
        event.preventDefault();
        void props.run(props.action);
      }}
    >
      <h3 id={props.id}>{props.title}</h3>
      <p class="muted">{linked ? props.intro.linked : props.intro.unlinked}</p>
      <fieldset class="plain" disabled={!enabled}>
        {props.children}
      </fieldset>
      <button type="submit" class="primary" disabled={!enabled || props.busy}>
        {props.title}
      </button>
    </form>
  );
}

const OUTCOME_TEXT = {
  created: 'Created',
  linked: 'Linked to',
  'already-linked': 'Already linked to',
} as const;

function SyncToDynamics(props: ActionProps) {
  const [as, setAs] = useState<'lead' | 'contact'>('contact');
  const [ownerId, setOwnerId] = useState('');
  return (
    <ActionForm
      {...props}
      id="sync-title"
      title="Sync to Dynamics"
      needs="unlinked"
      intro={{
        linked: `This person is already in Dynamics as a ${props.person.dynamics?.table ?? 'row'}.`,
        unlinked: 'Creates the person in Dynamics, or links it to the row that has its email.',
      }}
      action={async () => {
        const answer = await api.syncToDynamics(props.person.id, {
          as,
          ...(ownerId.trim() !== '' ? { ownerId: ownerId.trim() } : {}),
        });
        setOwnerId('');
        await props.reload();
        return `${OUTCOME_TEXT[answer.outcome]} ${answer.table} ${answer.rowId} in Dynamics.`;
      }}
    >
      <fieldset>
        <legend>Create as</legend>
        {(['contact', 'lead'] as const).map((table) => (
          <label key={table} class="inline">
            <input
              type="radio"
              name="as"
              value={table}
              checked={as === table}
              onChange={() => setAs(table)}
            />
            {table === 'contact' ? 'Contact' : 'Lead'}
          </label>
        ))}
      </fieldset>
      <TextField
        label={
          <>
            Owner id <span class="muted small">(optional; user GUID)</span>
          </>
        }
        name="ownerId"
        pattern={GUID_PATTERN}
        value={ownerId}
        onValue={setOwnerId}
      />
    </ActionForm>
  );
}

function ChangeOwner(props: ActionProps) {
  const [ownerId, setOwnerId] = useState('');
  const [ownerType, setOwnerType] = useState<'systemuser' | 'team'>('systemuser');
  const current = props.person.dynamics?.values.ownerId ?? props.person.marketing.ownerId;
  return (
    <ActionForm
      {...props}
      id="owner-title"
      title="Change owner"
      needs="linked"
      intro={{
        linked: `Current owner: ${displayValue(current) || 'unknown'}.`,
        unlinked: 'Sync the person to Dynamics first; then its owner can be changed.',
      }}
      action={async () => {
        const answer = await api.changeOwner(props.person.id, { ownerId: ownerId.trim(), ownerType });
        setOwnerId('');
        await props.reload();
        return `The ${answer.table} now belongs to ${answer.ownerType === 'team' ? 'team' : 'user'} ${answer.ownerId}.`;
      }}
    >
      <TextField
        label="New owner id"
        name="newOwnerId"
        required
        pattern={GUID_PATTERN}
        placeholder="00000000-0000-0000-0000-000000000000"
        value={ownerId}
        onValue={setOwnerId}
      />
      <SelectField
        label="Owner is a"
        name="ownerType"
        value={ownerType}
        options={OWNER_TYPES}
        onValue={setOwnerType}
      />
    </ActionForm>
  );
}

const BLANK_TASK = {
  subject: '',
  description: '',
  dueDate: '',
  priority: 'normal' as 'low' | 'normal' | 'high',
};

function CreateTask(props: ActionProps) {
  const [task, setTask] = useState(BLANK_TASK);
  return (
    <ActionForm
      {...props}
      id="task-title"
      title="Create task"
      needs="linked"
      intro={{
        linked: 'A Dynamics task regarding this person, for its owner.',
        unlinked: 'Sync the person to Dynamics first; then tasks can be created for it.',
      }}
      action={async () => {
        const answer = await api.createTask(props.person.id, {
          subject: task.subject.trim(),
          priority: task.priority,
          ...(task.description.trim() !== '' ? { description: task.description.trim() } : {}),
          ...(task.dueDate !== '' ? { dueDate: task.dueDate } : {}),
        });
        setTask(BLANK_TASK);
        return `Task created in Dynamics (${answer.taskId}).`;
      }}
    >
      <TextField
        label="Subject"
        name="subject"
        required
        maxLength={200}
        value={task.subject}
        onValue={(subject) => setTask({ ...task, subject })}
      />
      <label>
        Description <span class="muted small">(optional)</span>
        <textarea
          name="description"
          rows={2}
          maxLength={2000}
          value={task.description}
          onInput={(event) => setTask({ ...task, description: event.currentTarget.value })}
        />
      </label>
      <div class="row">
        <TextField
          label={
            <>
              Due <span class="muted small">(default: in 5 days)</span>
            </>
          }
          type="date"
          name="dueDate"
          value={task.dueDate}
          onValue={(dueDate) => setTask({ ...task, dueDate })}
        />
        <SelectField
          label="Priority"
          name="priority"
          value={task.priority}
          options={PRIORITIES}
          onValue={(priority) => setTask({ ...task, priority })}
        />
      </div>
    </ActionForm>
  );
}
