import { z } from 'zod';
import { Prng } from './seed.random';

export const faultConfigSchema = z.object({
  /** Added latency: fixed ms, or [min, max] uniformly. */
  latencyMs: z.union([z.number().min(0), z.tuple([z.number().min(0), z.number().min(0)])]).optional(),
  /** Probability per status, e.g. { "503": 0.1, "500": 0.05 }. */
  errorRates: z.record(z.string().regex(/^\d{3}$/), z.number().min(0).max(1)).optional(),
  /** Probability that the connection is destroyed without an answer. */
  resetRate: z.number().min(0).max(1).optional(),
  /** Faults normally spare the token endpoint. */
  includeTokenEndpoint: z.boolean().optional(),
});
export type FaultConfig = z.infer<typeof faultConfigSchema>;

export const failNextSchema = z.object({
  count: z.number().int().positive().default(1),
  /** An HTTP status, or "reset" to destroy the connection. */
  status: z.union([z.number().int().min(400).max(599), z.literal('reset')]),
  /** Regular expression tested against the path and query (e.g. "^/api/data/v9.2/contacts"). */
  pathPattern: z.string().optional(),
  method: z.string().optional(),
  code: z.string().optional(),
  message: z.string().optional(),
  retryAfterSeconds: z.number().int().min(0).optional(),
  /** Apply to the token endpoint as well. */
  includeTokenEndpoint: z.boolean().optional(),
});
export type FailNextSpec = z.input<typeof failNextSchema>;
type FailNextRule = z.output<typeof failNextSchema> & { remaining: number; regex?: RegExp };

export type FaultDecision =
  | { kind: 'none'; latencyMs: number }
  | { kind: 'reset'; latencyMs: number }
  | {
      kind: 'error';
      latencyMs: number;
      status: number;
      code?: string;
      message?: string;
      retryAfterSeconds?: number;
    };

/** Decides per request whether to delay, fail or drop it. Seeded, so runs are reproducible. */
export class FaultInjector {
  private config: FaultConfig = {};
  private rules: FailNextRule[] = [];
  private readonly rng: Prng;

  constructor(seed: number) {
    this.rng = new Prng(seed ^ 0x5eed);
  }

  setFaults(config: FaultConfig): void {
    this.config = faultConfigSchema.parse(config);
  }

  clearFaults(): void {
    this.config = {};
    this.rules = [];
  }

  getFaults(): {
    config: FaultConfig;
    pending: { status: number | 'reset'; remaining: number; pathPattern?: string }[];
  } {
    return {
      config: this.config,
      pending: this.rules.map((r) => ({
        status: r.status,
        remaining: r.remaining,
        ...(r.pathPattern !== undefined ? { pathPattern: r.pathPattern } : {}),
      })),
    };
  }

  failNext(spec: FailNextSpec): void {
    const rule = failNextSchema.parse(spec);
    this.rules.push({
      ...rule,
      remaining: rule.count,
      ...(rule.pathPattern !== undefined ? { regex: new RegExp(rule.pathPattern) } : {}),
    });
  }

  decide(method: string, pathAndQuery: string, tokenEndpoint: boolean): FaultDecision {
    const latencyMs = this.latency(tokenEndpoint);
    for (const rule of this.rules) {
      if (rule.remaining <= 0) continue;
      if (tokenEndpoint && !rule.includeTokenEndpoint) continue;
      if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) continue;
      if (rule.regex && !rule.regex.test(pathAndQuery)) continue;
      rule.remaining--;
      this.rules = this.rules.filter((r) => r.remaining > 0);
      if (rule.status === 'reset') return { kind: 'reset', latencyMs };
      return {
        kind: 'error',
        latencyMs,
        status: rule.status,
        ...(rule.code !== undefined ? { code: rule.code } : {}),
        ...(rule.message !== undefined ? { message: rule.message } : {}),
        ...(rule.retryAfterSeconds !== undefined ? { retryAfterSeconds: rule.retryAfterSeconds } : {}),
      };
    }
    if (tokenEndpoint && !this.config.includeTokenEndpoint) return { kind: 'none', latencyMs };
    if (this.config.resetRate && this.rng.next() < this.config.resetRate) return { kind: 'reset', latencyMs };
    for (const [status, rate] of Object.entries(this.config.errorRates ?? {})) {
      if (this.rng.next() < rate) return { kind: 'error', latencyMs, status: Number(status) };
    }
    return { kind: 'none', latencyMs };
  }

  private latency(tokenEndpoint: boolean): number {
    const l = this.config.latencyMs;
    if (l === undefined || (tokenEndpoint && !this.config.includeTokenEndpoint)) return 0;
    if (typeof l === 'number') return l;
    return l[0] + this.rng.next() * Math.max(0, l[1] - l[0]);
  }
}
