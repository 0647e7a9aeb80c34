/** The messages a notification is registered for on every synced table (where Dataverse has a filter for the pair). */
export const NOTIFY_MESSAGES = [
  'Create',
  'Update',
  'Delete',
  'Assign',
  'SetState',
  'Merge',
  'QualifyLead',
] as const;

/** The name the sync's webhook endpoint is registered under: how `realtime` finds it again. */
export const NOTIFY_ENDPOINT_NAME = 'dynamics-sync notify';

/** The header Dataverse sends the secret in (authtype HttpHeader). */
export const NOTIFY_HEADER = 'x-notify-key';

export interface StepKey {
  message: string;
  table: string;
}

export interface StepPlan<S extends StepKey> {
  /** Wanted and not registered. */
  create: StepKey[];
  /** Registered and not wanted (a table no longer synced), or a second step for the same pair. */
  remove: S[];
  /** Registered and wanted. */
  keep: S[];
}

const keyOf = (step: StepKey) => `${step.message}\u0000${step.table}`;

/** What to change so that exactly the wanted steps are registered, once each. */
export function planSteps<S extends StepKey>(
  wanted: readonly StepKey[],
  existing: readonly S[],
): StepPlan<S> {
  const want = new Set(wanted.map(keyOf));
  const seen = new Set<string>();
  const plan: StepPlan<S> = { create: [], remove: [], keep: [] };
  for (const step of existing) {
    const key = keyOf(step);
    if (want.has(key) && !seen.has(key)) {
      seen.add(key);
      plan.keep.push(step);
    } else plan.remove.push(step);
  }
  for (const step of wanted) if (!seen.has(keyOf(step))) plan.create.push(step);
  return plan;
}

/** The authvalue of an HttpHeader endpoint: Dataverse's settings XML with one header. */
export function headerAuthValue(secret: string): string {
  const escaped = secret
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
  return `<settings><setting name="${NOTIFY_HEADER}" value="${escaped}" /></settings>`;
}
