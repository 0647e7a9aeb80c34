import { Prng } from '../dataverse/seed.random';

export const FAULT_KINDS = [
  'throttle',
  'server-error',
  'reset',
  'latency',
  'token-revoke',
  'host-kill',
  'broker-kill',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One fault: starts `atMs` after the chaos began and lasts `forMs` (down time for a kill). */
export interface FaultEvent {
  atMs: number;
  kind: FaultKind;
  forMs: number;
  /** Kind-specific strength: a rate for server-error and reset, Retry-After seconds for throttle. */
  level: number;
}

export const ACTION_KINDS = [
  'dynamics-edit',
  'marketing-edit',
  'conflict',
  'dynamics-create',
  'dynamics-delete',
  'merge',
  'qualify',
  'marketing-create',
] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

export interface ActionEvent {
  atMs: number;
  kind: ActionKind;
  /** A draw in [0, 1) that chooses the target among the candidates at the time. */
  pick: number;
}

export interface ChaosPlanOptions {
  seed: number;
  durationMs: number;
  /** Mean gap between faults. */
  meanFaultGapMs: number;
  /** Mean gap between edits. */
  meanActionGapMs: number;
}

export interface ChaosPlan {
  faults: FaultEvent[];
  actions: ActionEvent[];
}

const FAULT_WEIGHTS: Record<FaultKind, number> = {
  throttle: 3,
  'server-error': 3,
  reset: 2,
  latency: 2,
  'token-revoke': 2,
  'host-kill': 2,
  'broker-kill': 1,
};

// Most of the traffic is ordinary edits; the lifecycle changes are rarer, as in a real CRM.
const ACTION_WEIGHTS: Record<ActionKind, number> = {
  'dynamics-edit': 6,
  'marketing-edit': 6,
  conflict: 4,
  'dynamics-create': 2,
  'dynamics-delete': 1,
  merge: 1,
  qualify: 1,
  'marketing-create': 2,
};

function weighted<K extends string>(rng: Prng, weights: Record<K, number>): K {
  const entries = Object.entries(weights) as [K, number][];
  let draw = rng.next() * entries.reduce((sum, [, w]) => sum + w, 0);
  for (const [kind, weight] of entries) {
    draw -= weight;
    if (draw < 0) return kind;
  }
  return (entries[entries.length - 1] as [K, number])[0];
}

/** Exponential gaps around the mean, never shorter than a tenth of it. */
const gap = (rng: Prng, mean: number): number => Math.max(mean / 10, -Math.log(1 - rng.next()) * mean);

function faultOf(rng: Prng, atMs: number): FaultEvent {
  const kind = weighted(rng, FAULT_WEIGHTS);
  switch (kind) {
    case 'throttle':
      return { atMs, kind, forMs: rng.int(5, 20) * 1000, level: rng.int(1, 3) };
    case 'server-error':
      return { atMs, kind, forMs: rng.int(5, 20) * 1000, level: rng.int(5, 25) / 100 };
    case 'reset':
      return { atMs, kind, forMs: rng.int(5, 15) * 1000, level: rng.int(3, 15) / 100 };
    case 'latency':
      return { atMs, kind, forMs: rng.int(5, 20) * 1000, level: rng.int(50, 800) };
    case 'token-revoke':
      return { atMs, kind, forMs: 0, level: 0 };
    case 'host-kill':
      return { atMs, kind, forMs: rng.int(1, 8) * 1000, level: 0 };
    case 'broker-kill':
      return { atMs, kind, forMs: rng.int(1, 6) * 1000, level: 0 };
  }
}

/**
 * The whole schedule of a chaos run, drawn from the seed alone: the same seed gives the same
 * faults and the same edits at the same offsets, so a failing run can be replayed.
 */
export function planChaos(options: ChaosPlanOptions): ChaosPlan {
  const faultRng = new Prng(options.seed ^ 0xfa017);
  const actionRng = new Prng(options.seed ^ 0xac710);
  const faults: FaultEvent[] = [];
  for (let at = gap(faultRng, options.meanFaultGapMs); at < options.durationMs;) {
    faults.push(faultOf(faultRng, Math.round(at)));
    at += gap(faultRng, options.meanFaultGapMs);
  }
  const actions: ActionEvent[] = [];
  for (let at = gap(actionRng, options.meanActionGapMs); at < options.durationMs;) {
    actions.push({ atMs: Math.round(at), kind: weighted(actionRng, ACTION_WEIGHTS), pick: actionRng.next() });
    at += gap(actionRng, options.meanActionGapMs);
  }
  return { faults, actions };
}
