import { useState } from 'preact/hooks';
import { api, type ValidationCheck, type ValidationReport } from './api';
import { plural } from './format';
import { Empty, ErrorBox, Loading } from './ui';

const STATUS_TEXT: Record<ValidationCheck['status'], { icon: string; text: string }> = {
  pass: { icon: '✓', text: 'Passed' },
  warn: { icon: '!', text: 'Warning' },
  fail: { icon: '✕', text: 'Failed' },
};

const CHECK_TONE: Record<ValidationCheck['status'], 'good' | 'warn' | 'bad'> = {
  pass: 'good',
  warn: 'warn',
  fail: 'bad',
};

/** Names of the checks the app runs today; a check added later still shows, by its id. */
const CHECK_TITLES: Record<string, string> = {
  'dataverse-url': 'Dynamics answers',
  token: 'Token for the application user',
  whoami: 'Application user (WhoAmI)',
  privileges: 'Privileges of the application user',
  cosmos: 'Cosmos DB database and containers',
  servicebus: 'Service Bus queues',
};

/** `table:contact` → "Table contact", `changeTracking` → "Change tracking". */
const checkTitle = (id: string): string => {
  const known = CHECK_TITLES[id];
  if (known !== undefined) return known;
  const words = id
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_.:-]+/g, ' ')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

export function ValidateTab() {
  const [state, setState] = useState<
    | { kind: 'idle' }
    | { kind: 'running' }
    | { kind: 'done'; report: ValidationReport; at: number }
    | { kind: 'error'; error: unknown }
  >({ kind: 'idle' });
  const runChecks = async () => {
    setState({ kind: 'running' });
    try {
      setState({ kind: 'done', report: await api.validate(), at: Date.now() });
    } catch (error) {
      setState({ kind: 'error', error });
    }
  };
  return (
    <div class="stack">
      <div class="row spread">
        <p>
          Checks the connection to Dynamics (token, application user, privileges, change tracking, columns),
          Cosmos DB and Service Bus, as the sync itself would use them.
        </p>
        <button
          type="button"
          class="primary"
          disabled={state.kind === 'running'}
          onClick={() => void runChecks()}
        >
          {state.kind === 'running'
            ? 'Running the checks…'
            : state.kind === 'done'
              ? 'Run the checks again'
              : 'Run the checks'}
        </button>
      </div>
      {state.kind === 'idle' && (
        <Empty title="The checks have not run yet.">
          Run them after changing the app settings or the Dynamics application user, or when a sync keeps
          failing. They read from Dynamics but change nothing.
        </Empty>
      )}
      {state.kind === 'running' && (
        <Loading>Running the checks against Dynamics, Cosmos DB and Service Bus…</Loading>
      )}
      {state.kind === 'error' && <ErrorBox error={state.error} retry={() => void runChecks()} />}
      {state.kind === 'done' && <Report report={state.report} />}
    </div>
  );
}

function Report({ report }: { report: ValidationReport }) {
  const count = (status: ValidationCheck['status']) =>
    report.checks.filter((c) => c.status === status).length;
  const failed = count('fail');
  const warned = count('warn');
  return (
    <section aria-labelledby="checks-title" class="stack">
      <h2 id="checks-title" class={failed > 0 ? 'text-bad' : warned > 0 ? 'text-warn' : 'text-good'}>
        {failed > 0
          ? `${plural(failed, 'check')} failed`
          : warned > 0
            ? `Everything works, with ${plural(warned, 'warning')}`
            : 'Everything works'}
        <span class="muted small">
          {' '}
          · {plural(count('pass'), 'check')} passed of {report.checks.length}
        </span>
      </h2>
      {report.checks.length === 0 ? (
        <Empty title="The app reported no checks." />
      ) : (
        <ol class="checklist">
          {report.checks.map((check) => (
            <li key={check.id} class={`tone-${CHECK_TONE[check.status]}`} data-check={check.id}>
              <span class="check-icon" aria-hidden="true">
                {STATUS_TEXT[check.status].icon}
              </span>
              <div>
                <p class="check-title">
                  {checkTitle(check.id)} <span class="visually-hidden">{STATUS_TEXT[check.status].text}</span>
                  <span class="badge" aria-hidden="true">
                    {STATUS_TEXT[check.status].text}
                  </span>
                </p>
                <p>{check.detail}</p>
                {check.fix !== undefined && check.status !== 'pass' && (
                  <p class="fix">
                    <strong>How to fix:</strong> {check.fix}
                  </p>
                )}
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
