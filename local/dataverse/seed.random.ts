import { createHash } from 'node:crypto';
import { isoSeconds } from './data.store';

// What every part of the seed draws from: the PRNG, ids, fixed timestamps, owners and audit columns.
// Each table family may draw from its own PRNG stream, so that adding one leaves the others' rows
// exactly as they were.

/** Small fast deterministic PRNG (mulberry32): same seed, same data, ids included. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  uint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  next(): number {
    return this.uint32() / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  guid(): string {
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    const a = hex(this.uint32());
    const b = hex(this.uint32());
    const c = hex(this.uint32());
    const d = hex(this.uint32());
    const variant = ((parseInt(c[0] as string, 16) & 0x3) | 0x8).toString(16);
    return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
  }
}

export const guidFromText = (text: string): string => {
  const h = createHash('sha1').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

/** A seeded row before it is inserted. */
export interface Pending {
  id: string;
  values: Record<string, unknown>;
  targets: Record<string, string>;
}

// Seeded timestamps are fixed (not taken from the clock) so that the same seed gives identical data.
export const SEED_END = Date.UTC(2025, 0, 1);
export const SEED_SPAN = 3 * 365 * 24 * 3600 * 1000;

/** A creation time within the seeded span and a modification time after it. */
export const stampsFrom = (rng: Prng): { createdon: string; modifiedon: string } => {
  const created = SEED_END - Math.floor(rng.next() * SEED_SPAN);
  const modified = created + Math.floor(rng.next() * (SEED_END - created));
  return { createdon: isoSeconds(created), modifiedon: isoSeconds(modified) };
};

export const AUDIT_TARGETS: Readonly<Record<string, string>> = {
  _createdby_value: 'systemuser',
  _modifiedby_value: 'systemuser',
};

/** Audit columns and timestamps in one object (one spread per row keeps seeding fast). */
export const auditFrom = (rng: Prng, users: Pending[]): Record<string, unknown> => {
  const by = rng.pick(users).id;
  const { createdon, modifiedon } = stampsFrom(rng);
  return { _createdby_value: by, _modifiedby_value: by, createdon, modifiedon };
};

/** An owner: a team one time in ten when there are teams, else an enabled user. */
export const ownerFrom = (rng: Prng, teams: Pending[], users: Pending[]): [string, string] =>
  teams.length > 0 && rng.chance(0.1) ? [rng.pick(teams).id, 'team'] : [rng.pick(users).id, 'systemuser'];
