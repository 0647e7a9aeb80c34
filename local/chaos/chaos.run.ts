import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { Container } from '@azure/cosmos';
import { z } from 'zod';
import { createCosmosClient } from '../../shared/cosmos/cosmos.client';
import { provisionCosmos } from '../../shared/cosmos/cosmos.provisioning';
import { rowIdFor } from '../../shared/domain/push.planner';
import { startCosmosStandIn } from '../cosmos/cosmos.server';
import { startDataverseSimulator, type DataverseSimulator } from '../dataverse/simulator.server';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  type SimulatorLimits,
  resolveLimits,
} from '../dataverse/simulator.options';
import { Prng } from '../dataverse/seed.random';
import { LOCAL_QUEUES } from '../local-queues';
import { ChildService, freePort } from './chaos.processes';
import {
  judge,
  ledgerKey,
  type ChaosLedger,
  type Doc,
  type EditedField,
  type Finding,
  type OracleReport,
  type PersonTable,
} from './chaos.oracle';
import { FAULT_KINDS, planChaos, type ActionEvent, type FaultEvent, type FaultKind } from './chaos.schedule';

const ROOT = path.resolve(__dirname, '..', '..');

export interface ChaosOptions {
  seed: number;
  durationMs: number;
  /** Contacts seeded in the simulator (leads half as many, and so on). */
  records?: number;
  meanFaultGapMs?: number;
  meanActionGapMs?: number;
  /** How long the stack may take to catch up once the faults stop. */
  quiesceTimeoutMs?: number;
  /** How long nothing may be written after it caught up (two scheduler ticks and more). */
  quietWindowMs?: number;
  /** Runs `dynamics-sync verify --json` at the end (default true; the short test leaves it out). */
  verify?: boolean;
  /** Every line of the run: faults, restarts, the host's warnings and errors. */
  log?: (line: string) => void;
}

export interface ChaosResult {
  seed: number;
  line: string;
  ok: boolean;
  edits: { dynamics: number; marketing: number };
  faults: Record<FaultKind, number>;
  restarts: { host: number; broker: number };
  lost: number;
  duplicated: number;
  echoed: number;
  retryAfterViolations: number;
  /** The oracle's drift: rows and edits on which the two sides still disagree at the end. */
  drift: number;
  /** Drift as verify reports it (undefined when verify was not run); gated on like the oracle's. */
  verifyDrift: number | undefined;
  verify: string;
  findings: Finding[];
}

const SCHEDULE = '*/10 * * * * *';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface PoolMember {
  table: PersonTable;
  rowId: string;
  personId: string;
}

/** What the run did to the stack, kept as it goes. */
class Tally {
  readonly faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  dynamicsEdits = 0;
  marketingEdits = 0;
  readonly ledger: ChaosLedger = { edits: new Map(), deleted: [], creates: [] };
  /** Rows marketing changed or asked for: the only rows the app may write in Dynamics. */
  readonly intent = new Set<string>();
}

/**
 * Dynamics rows the application user wrote, seen by comparing versions every second. A write to a
 * row marketing never touched is an echo; so is any write once everything has caught up.
 */
class AppWriteWatcher {
  private readonly versions = new Map<string, unknown>();
  readonly writes: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sim: DataverseSimulator,
    private readonly appUserId: string,
  ) {}

  start(): void {
    this.scan(false);
    this.timer = setInterval(() => this.scan(true), 1000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  scan(record: boolean): void {
    for (const table of ['lead', 'contact'] as const) {
      for (const row of this.sim.control.listRows(table)) {
        const key = `${table}:${String(row[`${table}id`])}`;
        if (this.versions.get(key) === row.versionnumber) continue;
        this.versions.set(key, row.versionnumber);
        if (record && row._modifiedby_value === this.appUserId) this.writes.push(key);
      }
    }
  }
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const at = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s`;
  const say = (line: string) => log(`[${at()}] ${line}`);
  const stops: (() => Promise<void>)[] = [];
  try {
    const sim = await startDataverseSimulator({
      port: 0,
      records: options.records ?? 200,
      seed: options.seed,
    });
    stops.push(() => sim.close());
    const defaultLimits = resolveLimits(sim.options.limits ?? {});
    const cosmos = await startCosmosStandIn({ port: 0 });
    stops.push(() => cosmos.close());
    const cosmosClient = createCosmosClient({
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: 'marketing',
    });
    stops.push(async () => cosmosClient.dispose());
    await provisionCosmos(cosmosClient, 'marketing', 'create');
    const database = cosmosClient.database('marketing');
    const people = database.container('people');

    const brokerPort = await freePort();
    const broker = new ChildService(
      'broker',
      'local/servicebus/cli.ts',
      [
        '--port',
        String(brokerPort),
        ...LOCAL_QUEUES.flatMap((q) => [
          '--queue',
          [
            q.name,
            ...(q.requiresSession ? ['session'] : []),
            `lock=${q.lockDurationMs}`,
            `maxDelivery=${q.maxDeliveryCount}`,
            ...('duplicateDetectionWindowMs' in q ? [`dedupe=${q.duplicateDetectionWindowMs}`] : []),
          ].join(':'),
        ]),
      ],
      {},
      /^SERVICEBUS_CONNECTION_STRING=/,
      () => undefined,
    );
    await broker.start();
    stops.push(() => broker.stop());

    const env: Record<string, string> = {
      DATAVERSE_URL: sim.url,
      DATAVERSE_TENANT_ID: sim.tenantId,
      DATAVERSE_CLIENT_ID: DEFAULT_CLIENT_ID,
      DATAVERSE_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
      DATAVERSE_TOKEN_ENDPOINT: sim.tokenEndpoint,
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: cosmos.key,
      COSMOS_DATABASE: 'marketing',
      COSMOS: `AccountEndpoint=${cosmos.endpoint}/;AccountKey=${cosmos.key};`,
      SERVICEBUS: `Endpoint=sb://127.0.0.1:${brokerPort};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=local;UseDevelopmentEmulator=true`,
      API_AUTHORIZATION: 'off',
      // Often enough that the timer heals what a lost broker message left undone within seconds.
      SYNC_SCHEDULE: SCHEDULE,
      LOG_LEVEL: 'warn',
    };
    const host = new ChildService('host', 'local/chaos/host.child.ts', [], env, /^READY /, (line) =>
      log(`[${at()}] host: ${line}`),
    );
    await host.start();
    stops.push(() => host.stop());
    say(
      `stack up: simulator ${sim.url}, Cosmos ${cosmos.endpoint}, broker :${brokerPort}; seed ${options.seed}`,
    );

    const tally = new Tally();
    const docsOf = async (container: string): Promise<Doc[]> =>
      (await database.container(container).items.readAll<Doc>().fetchAll()).resources;
    const judgeNow = () =>
      judge({ rows: (table) => sim.control.listRows(table), docs: docsOf, ledger: tally.ledger });

    const initial = await waitUntil(judgeNow, 5 * 60_000, 2000);
    if (!initial.clean) throw new Error(`the first load did not complete: ${summarize(initial.report)}`);
    say('first load complete: every row is in Cosmos');

    const pools = await buildPools(sim, docsOf, options.seed);
    const appUserId = sim.control.appUserId();
    const watcher = new AppWriteWatcher(sim, appUserId);
    watcher.start();
    sim.control.resetCounters();

    const plan = planChaos({
      seed: options.seed,
      durationMs: options.durationMs,
      meanFaultGapMs: options.meanFaultGapMs ?? 10_000,
      meanActionGapMs: options.meanActionGapMs ?? 1_500,
    });
    // When a request breaks a Retry-After, say when, and what the host was doing, for the replay.
    let violations = 0;
    const violationWatch = setInterval(() => {
      const seen = sim.control.counters().total.retryAfterViolations;
      if (seen === violations) return;
      violations = seen;
      const recent = sim.control
        .requestLog()
        .slice(-8)
        .map((r) => `${r.status} ${r.method} ${r.path.slice(0, 60)} +${r.start - started}ms`);
      say(
        `retry-after violation (${seen} so far); host ${host.running ? 'up' : 'not ready'} after ${host.starts} starts; last requests: ${recent.join(' | ')}`,
      );
    }, 500);
    stops.push(async () => clearInterval(violationWatch));
    const chaos = new ChaosDriver(sim, people, host, broker, tally, pools, defaultLimits, say);
    await chaos.run(plan.faults, plan.actions, options.durationMs);
    say('chaos over: faults off, host and broker up; waiting for the stack to catch up');

    const settled = await waitUntil(
      async () => {
        const report = await judgeNow();
        return report;
      },
      options.quiesceTimeoutMs ?? 5 * 60_000,
      3000,
    );
    say(settled.clean ? 'caught up' : `did not catch up: ${summarize(settled.report)}`);

    // Nothing may be written once both sides agree: a write now is a loop.
    const appWritesBefore = watcher.writes.length;
    const peopleBefore = new Map((await docsOf('people')).map((d) => [d.id, d._etag]));
    await sleep(options.quietWindowMs ?? 25_000);
    watcher.scan(true);
    watcher.stop();
    const peopleAfter = await docsOf('people');
    const rewritten = peopleAfter.filter((d) => peopleBefore.get(d.id) !== d._etag).length;
    const loopWrites = watcher.writes.length - appWritesBefore + rewritten;
    const strayWrites = watcher.writes.filter((key) => !tally.intent.has(key)).length;
    const echoed = loopWrites + strayWrites;
    if (echoed > 0) {
      say(
        `echoes: ${strayWrites} app writes to rows marketing never touched, ${loopWrites} writes after catching up`,
      );
    }

    const final = await judgeNow();
    const verify =
      options.verify === false
        ? { drift: undefined, label: 'verify not run', output: '' }
        : await runVerify(env);
    log(`verify output: ${verify.output}`);
    const counters = sim.control.counters().total;
    const result: ChaosResult = {
      seed: options.seed,
      ok: false,
      line: '',
      edits: { dynamics: tally.dynamicsEdits, marketing: tally.marketingEdits },
      faults: tally.faults,
      restarts: { host: host.starts - 1, broker: broker.starts - 1 },
      lost: final.lost.length,
      duplicated: final.duplicated.length,
      echoed,
      retryAfterViolations: counters.retryAfterViolations,
      drift: final.drift.length + final.pending.length,
      verifyDrift: verify.drift,
      verify: verify.label,
      findings: [...final.lost, ...final.duplicated, ...final.drift, ...final.pending],
    };
    result.ok =
      result.lost === 0 &&
      result.duplicated === 0 &&
      result.echoed === 0 &&
      result.retryAfterViolations === 0 &&
      result.drift === 0 &&
      (result.verifyDrift ?? 0) === 0;
    result.line = resultLine(result, options.durationMs);
    return result;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

export function resultLine(r: ChaosResult, durationMs: number): string {
  const faults = FAULT_KINDS.map((k) => `${k} ${r.faults[k]}`).join(', ');
  return (
    `chaos seed=${r.seed} minutes=${(durationMs / 60_000).toFixed(1)}: ` +
    `edits dynamics ${r.edits.dynamics}, marketing ${r.edits.marketing} | ` +
    `faults ${faults} | restarts host ${r.restarts.host}, broker ${r.restarts.broker} | ` +
    `lost ${r.lost}, duplicated ${r.duplicated}, echoed ${r.echoed}, ` +
    `retry-after violations ${r.retryAfterViolations}, drift ${r.drift} (${r.verify}) => ${r.ok ? 'OK' : 'FAIL'}`
  );
}

function summarize(report: OracleReport): string {
  const first = [...report.lost, ...report.duplicated, ...report.drift, ...report.pending][0];
  return (
    `lost ${report.lost.length}, duplicated ${report.duplicated.length}, drift ${report.drift.length}, ` +
    `in flight ${report.pending.length}${first ? `; e.g. ${first.code} ${first.table} ${first.id}: ${first.detail}` : ''}`
  );
}

async function waitUntil(
  check: () => Promise<OracleReport>,
  timeoutMs: number,
  everyMs: number,
): Promise<{ clean: boolean; report: OracleReport }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await check();
    const clean =
      report.lost.length + report.duplicated.length + report.drift.length + report.pending.length === 0;
    if (clean || Date.now() > deadline) return { clean, report };
    await sleep(everyMs);
  }
}

/** People split once, by the seed: some only get edits, the others deletes, merges and qualifications. */
async function buildPools(
  sim: DataverseSimulator,
  docsOf: (container: string) => Promise<Doc[]>,
  seed: number,
): Promise<{ edit: PoolMember[]; lifecycle: PoolMember[] }> {
  const rng = new Prng(seed ^ 0x9001);
  const docs = await docsOf('people');
  const edit: PoolMember[] = [];
  const lifecycle: PoolMember[] = [];
  for (const table of ['lead', 'contact'] as const) {
    for (const row of sim.control.listRows(table)) {
      if (row.new_synctomkto === false || row.statecode !== 0) continue;
      const rowId = String(row[`${table}id`]);
      const doc = docs.find((d) => (d.dynamics as Record<string, unknown>)[`${table}Id`] === rowId);
      const dynamics = (doc?.dynamics ?? {}) as Record<string, unknown>;
      // Only people with one row: a qualified lead's person follows its contact.
      if (
        doc === undefined ||
        doc.type !== table ||
        (dynamics.leadId !== undefined && dynamics.contactId !== undefined)
      ) {
        continue;
      }
      (rng.chance(0.7) ? edit : lifecycle).push({ table, rowId, personId: doc.id });
    }
  }
  return { edit, lifecycle };
}

/** Runs the faults and the edits at their planned offsets. */
class ChaosDriver {
  private readonly active = { serverError: 0, reset: 0, latency: 0, throttles: 0 };
  private readonly restarts: Promise<void>[] = [];
  private seq = 0;

  constructor(
    private readonly sim: DataverseSimulator,
    private readonly people: Container,
    private readonly host: ChildService,
    private readonly broker: ChildService,
    private readonly tally: Tally,
    private readonly pools: { edit: PoolMember[]; lifecycle: PoolMember[] },
    private readonly defaultLimits: SimulatorLimits,
    private readonly say: (line: string) => void,
  ) {}

  async run(faults: FaultEvent[], actions: ActionEvent[], durationMs: number): Promise<void> {
    const t0 = Date.now();
    const timers: NodeJS.Timeout[] = [];
    const fired: Promise<void>[] = [];
    for (const fault of faults) {
      timers.push(
        setTimeout(
          () =>
            fired.push(
              this.fault(fault).catch((e: unknown) => this.say(`fault ${fault.kind} failed: ${String(e)}`)),
            ),
          fault.atMs,
        ),
      );
    }
    // Edits run one after another, each at its offset or as soon as the one before it is done.
    for (const action of actions) {
      const wait = action.atMs - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
      await this.action(action).catch((e: unknown) => this.say(`action ${action.kind} failed: ${String(e)}`));
    }
    const rest = durationMs - (Date.now() - t0);
    if (rest > 0) await sleep(rest);
    for (const timer of timers) clearTimeout(timer);
    await Promise.all(fired);
    await Promise.all(this.restarts);
    this.sim.control.setFaults({});
    this.sim.control.setLimits(this.defaultLimits);
    await this.broker.start();
    await this.host.start();
  }

  private applyRandomFaults(): void {
    const { serverError, reset, latency } = this.active;
    this.sim.control.setFaults({
      ...(serverError > 0
        ? { errorRates: { '503': serverError / 2, '500': serverError / 4, '502': serverError / 4 } }
        : {}),
      ...(reset > 0 ? { resetRate: reset } : {}),
      ...(latency > 0 ? { latencyMs: [latency / 4, latency] as [number, number] } : {}),
    });
  }

  private async fault(event: FaultEvent): Promise<void> {
    // A failed restart is said here and tried again when the chaos ends (which then fails the run).
    const later = (fn: () => void | Promise<void>) => {
      this.restarts.push(
        sleep(event.forMs)
          .then(fn)
          .catch((e: unknown) => this.say(`after ${event.kind}: ${String(e)}`)),
      );
    };
    switch (event.kind) {
      case 'throttle': {
        this.active.throttles += 1;
        this.sim.control.setLimits({
          requestsPerWindow: 10,
          windowSeconds: 3,
          retryAfterSeconds: event.level,
        });
        later(() => {
          this.active.throttles -= 1;
          if (this.active.throttles === 0) this.sim.control.setLimits(this.defaultLimits);
        });
        break;
      }
      case 'server-error':
      case 'reset':
      case 'latency': {
        const key = event.kind === 'server-error' ? 'serverError' : event.kind;
        const previous = this.active[key];
        this.active[key] = Math.max(previous, event.level);
        this.applyRandomFaults();
        later(() => {
          this.active[key] = 0;
          this.applyRandomFaults();
        });
        break;
      }
      case 'token-revoke':
        this.sim.control.revokeTokens();
        break;
      case 'host-kill':
      case 'broker-kill': {
        const target = event.kind === 'host-kill' ? this.host : this.broker;
        if (!target.running) return;
        await target.kill();
        later(() => target.start());
        break;
      }
    }
    this.tally.faults[event.kind] += 1;
    this.say(
      `fault ${event.kind}${event.forMs ? ` for ${event.forMs / 1000} s` : ''}${event.level ? ` (${event.level})` : ''}`,
    );
  }

  private pick<T>(items: T[], draw: number): T | undefined {
    return items[Math.floor(draw * items.length)];
  }

  private async action(event: ActionEvent): Promise<void> {
    const n = ++this.seq;
    const { edit, lifecycle } = this.pools;
    switch (event.kind) {
      case 'dynamics-edit': {
        const member = this.pick(edit, event.pick);
        if (member === undefined) return;
        const value = `+1 555 ${String(n).padStart(4, '0')}`;
        this.sim.control.updateRow(member.table, member.rowId, { telephone1: value });
        this.expect(member, 'phone', value, 'dynamics');
        this.tally.dynamicsEdits += 1;
        return;
      }
      case 'marketing-edit': {
        const member = this.pick(edit, event.pick);
        if (member === undefined) return;
        const field: EditedField = n % 2 === 0 ? 'firstName' : 'lastName';
        const value = `${field === 'firstName' ? 'Mara' : 'Kettle'} ${n}`;
        await this.marketingWrite(member.personId, { [field]: value });
        this.expect(member, field, value, 'marketing');
        this.tally.marketingEdits += 1;
        return;
      }
      case 'conflict': {
        const member = this.pick(edit, event.pick);
        if (member === undefined) return;
        const mine = `Marketing title ${n}`;
        const theirs = `Dynamics title ${n}`;
        // The side the rule favours writes last: then whichever way the race goes, it wins.
        if (member.table === 'lead') {
          this.sim.control.updateRow('lead', member.rowId, { jobtitle: theirs });
          await this.marketingWrite(member.personId, { jobTitle: mine });
        } else {
          await this.marketingWrite(member.personId, { jobTitle: mine });
          this.sim.control.updateRow('contact', member.rowId, { jobtitle: theirs });
        }
        this.expect(member, 'jobTitle', member.table === 'lead' ? mine : theirs, 'conflict');
        this.tally.dynamicsEdits += 1;
        this.tally.marketingEdits += 1;
        return;
      }
      case 'dynamics-create': {
        const table: PersonTable = n % 3 === 0 ? 'lead' : 'contact';
        this.sim.control.createRow(table, {
          firstname: 'Chaos',
          lastname: `Created ${n}`,
          emailaddress1: `chaos.created.${n}@example.com`,
          new_synctomkto: true,
        });
        this.tally.dynamicsEdits += 1;
        return;
      }
      case 'dynamics-delete': {
        const member = this.take(lifecycle, event.pick);
        if (member === undefined) return;
        this.sim.control.deleteRow(member.table, member.rowId);
        this.tally.ledger.deleted.push(member);
        this.tally.dynamicsEdits += 1;
        return;
      }
      case 'merge': {
        const contacts = lifecycle.filter((m) => m.table === 'contact');
        const subordinate = this.pick(contacts, event.pick);
        const target = contacts.find((m) => m !== subordinate);
        if (subordinate === undefined || target === undefined) return;
        lifecycle.splice(lifecycle.indexOf(subordinate), 1);
        this.sim.control.merge('contact', target.rowId, subordinate.rowId);
        this.tally.dynamicsEdits += 1;
        return;
      }
      case 'qualify': {
        const leads = lifecycle.filter((m) => m.table === 'lead');
        const lead = this.pick(leads, event.pick);
        if (lead === undefined) return;
        lifecycle.splice(lifecycle.indexOf(lead), 1);
        this.sim.control.qualify(lead.rowId, { createContact: true, createAccount: false });
        this.tally.dynamicsEdits += 1;
        return;
      }
      case 'marketing-create': {
        const as: PersonTable = n % 2 === 0 ? 'lead' : 'contact';
        const personId = `chaos-mkt-${n}`;
        const email = `chaos.marketing.${n}@example.com`;
        await this.people.items.create({
          id: personId,
          entity: 'person',
          firstName: 'Marketing',
          lastName: `Create ${n}`,
          email,
          syncToDynamics: { as },
        });
        this.tally.ledger.creates.push({ personId, email, as });
        this.tally.intent.add(`${as}:${rowIdFor(personId, as)}`);
        this.tally.marketingEdits += 1;
        return;
      }
    }
  }

  private take(pool: PoolMember[], draw: number): PoolMember | undefined {
    const member = this.pick(pool, draw);
    if (member !== undefined) pool.splice(pool.indexOf(member), 1);
    return member;
  }

  private expect(
    member: PoolMember,
    field: EditedField,
    expected: string,
    side: 'dynamics' | 'marketing' | 'conflict',
  ): void {
    this.tally.ledger.edits.set(ledgerKey(member.table, member.rowId, field), {
      ...member,
      field,
      expected,
      side,
    });
    if (side !== 'dynamics') this.tally.intent.add(`${member.table}:${member.rowId}`);
  }

  /** A marketing tool's edit: read, change, replace under the document's ETag, again on a conflict. */
  private async marketingWrite(
    personId: string,
    values: Partial<Record<EditedField, string>>,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const { resource } = await this.people.item(personId, personId).read<Doc>();
      if (resource === undefined) throw new Error(`person ${personId} is gone`);
      try {
        await this.people
          .item(personId, personId)
          .replace(
            { ...resource, ...values },
            { accessCondition: { type: 'IfMatch', condition: String(resource._etag) } },
          );
        return;
      } catch (error) {
        if ((error as { code?: number }).code !== 412 || attempt >= 20) throw error;
      }
    }
  }
}

const verifyAnswerSchema = z.looseObject({
  drift: z.number(),
  failed: z.number().default(0),
  findings: z.record(z.string(), z.number()).default({}),
  renamedReread: z.record(z.string(), z.number()).default({}),
});

/**
 * Verify (`dynamics-sync verify --json`) judges drift the way a user would on their own data; the run
 * passes only when both it and the oracle find none. Lookups whose display name changed are not
 * drift: verify reads those rows again and says how many.
 */
async function runVerify(
  env: Record<string, string>,
): Promise<{ drift: number | undefined; label: string; output: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/dynamics-sync.js'), 'verify', '--json'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  const json = /\{[\s\S]*\}/.exec(out)?.[0];
  try {
    const parsed = verifyAnswerSchema.parse(JSON.parse(json ?? ''));
    const codes = Object.entries(parsed.findings)
      .filter(([, n]) => n > 0)
      .map(([c, n]) => `${c} ${n}`);
    const renamed = Object.values(parsed.renamedReread).reduce((sum, n) => sum + n, 0);
    return {
      drift: parsed.drift + parsed.failed,
      label: `verify drift ${parsed.drift}${codes.length > 0 ? ` (${codes.join(', ')})` : ''}, entities not verified ${parsed.failed}, renamed lookups read again ${renamed}`,
      output: out,
    };
  } catch {
    // Falls through: an answer this run cannot read is reported, not guessed at.
  }
  return { drift: code === 0 ? 0 : 1, label: `verify exit ${code}, answer not read`, output: out };
}

export function appendLog(file: string): (line: string) => void {
  return (line) => appendFileSync(file, `${line}\n`);
}
