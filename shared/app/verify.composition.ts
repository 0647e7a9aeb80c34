import { buildEntityProfile, type EntityProfile } from '../domain/entity.profile';
import type { VerifyResult } from '../domain/verify-result.model';
import { VERIFY_CODES, type VerifyCode } from '../domain/verify.rules';
import { TableScanReader } from '../dataverse/table-scan.reader';
import { VerifyUseCase, type EntityVerify } from '../sync/verify.use-case';
import { createLogger, type Logger } from '../telemetry/logger';
import type { SyncMetrics } from '../telemetry/sync-metrics';
import { randomUUID } from 'node:crypto';
import { describeError, isRetryable } from '../errors/app.errors';
import type { MessageSettlement } from '../queue/job-queue.port';
import { parseMessageBody } from '../queue/message-body.decoder';
import { verifyJobMessageId, verifyJobSchema, type VerifyJob } from '../queue/verify-job.schema';
import type { AppServices } from './app.services';

export interface VerifyDriftOptions {
  /** Entities to verify; default every synced entity (SYNC_ENTITIES). */
  entities?: readonly string[];
  /** Read drifted rows again through the pull, push unpushed edits again, then verify again. */
  repair?: boolean;
  log?: Logger;
  /** Where the drift metric goes (Application Insights in Azure). */
  metrics?: Pick<SyncMetrics, 'verifyDrift'>;
}

/** What repair did, and the drift it started from. */
export interface RepairSummary {
  /** Rows read again by id through the pull, per entity. */
  reread: Record<string, number>;
  /** People whose edits were pushed again. */
  pushed: number;
  /** Drift found by the verify before the repair. */
  driftBefore: number;
  findingsBefore: Record<VerifyCode, number>;
}

/** The answer of verifyDrift, printed as is by `dynamics-sync verify --json`. */
export interface VerifyReport {
  at: string;
  finishedAt: string;
  /** Drift over every entity (0: Cosmos DB and Dynamics agree, in-flight changes aside). */
  drift: number;
  /** Entities whose verify could not finish (their result carries the error). */
  failed: number;
  findings: Record<VerifyCode, number>;
  /** Dataverse requests the verify (and its repair) sent. */
  requests: number;
  entities: VerifyResult[];
  /**
   * Rows read again because only a lookup's display name differed (a renamed account, owner or
   * contact), per entity: change tracking never reports those, so every verify refreshes them.
   */
  renamedReread: Record<string, number>;
  repair?: RepairSummary;
}

const quiet = createLogger({ debug() {}, info() {}, warn() {}, error() {} });

/**
 * Verify (drift audit), composed from the app's services: per entity, Dynamics against Cosmos DB,
 * each result kept with the run history. With `repair`, drifted rows are read again by id through
 * the normal pull path (batched, never deleting anything), unpushed marketing edits are pushed again,
 * and a second verify gives the answer. The CLI, the puller's verify jobs and the chaos run call this.
 */
export async function verifyDrift(
  services: AppServices,
  options: VerifyDriftOptions = {},
): Promise<VerifyReport> {
  const log = options.log ?? quiet;
  const entities = [...new Set(options.entities ?? services.env.SYNC_ENTITIES)];
  for (const entity of entities) services.sync.actions.enabledEntity(entity);
  const profiles = entities.map((name) =>
    buildEntityProfile(services.catalog.get(name), services.syncConfig),
  );
  const connection = services.dataverse();
  const requests = () => connection.governor.counters().requests;
  const startedAt = new Date().toISOString();
  const requestsBefore = requests();
  const useCase = new VerifyUseCase({
    scanner: new TableScanReader(connection.client),
    source: connection.reader,
    records: (profile) => services.recordsFor(profile.container),
    checkpoints: services.checkpoints,
    runs: services.runs,
    requests,
    log,
    pushWindowMs: services.env.VERIFY_PUSH_WINDOW_MINUTES * 60_000,
  });
  const runAll = async () => {
    const out: EntityVerify[] = [];
    for (const profile of profiles) out.push(await useCase.verify(profile));
    return out;
  };
  let verified = await runAll();
  const renamedReread: Record<string, number> = {};
  for (const [index, { repair: list }] of verified.entries()) {
    const entity = (profiles[index] as EntityProfile).logicalName;
    const count = await reread(services, entity, list.renamedRowIds, log);
    if (count > 0) renamedReread[entity] = count;
  }
  let repair: RepairSummary | undefined;
  if (options.repair === true && verified.some((v) => v.result.drift > 0)) {
    repair = await repairDrift(services, profiles, verified, log);
    verified = await runAll();
  }
  const results = verified.map((v) => v.result);
  for (const result of results) options.metrics?.verifyDrift(result.entity, result.drift);
  return {
    at: startedAt,
    finishedAt: new Date().toISOString(),
    drift: results.reduce((sum, r) => sum + r.drift, 0),
    failed: results.filter((r) => r.error !== undefined).length,
    findings: totals(results),
    requests: Math.max(0, requests() - requestsBefore),
    entities: results,
    renamedReread,
    ...(repair !== undefined ? { repair } : {}),
  };
}

/** Rows read again per pull job: the size of an operator's retry (reread jobs take at most 1000). */
const REREAD_BATCH = 1000;

/**
 * Reads rows again by id through the pull's own path: a row read again is planned and written like
 * any change (an absent one is taken as deleted and flagged, never removed), and its errors are
 * resolved. Answers how many distinct rows were asked for.
 */
async function reread(
  services: AppServices,
  entity: string,
  rowIds: readonly string[],
  log: Logger,
): Promise<number> {
  const ids = [...new Set(rowIds)];
  for (let start = 0; start < ids.length; start += REREAD_BATCH) {
    await services.sync.pullEntity(entity, { reread: ids.slice(start, start + REREAD_BATCH) }, { log });
  }
  return ids.length;
}

async function repairDrift(
  services: AppServices,
  profiles: readonly EntityProfile[],
  verified: readonly EntityVerify[],
  log: Logger,
): Promise<RepairSummary> {
  const results = verified.map((v) => v.result);
  const summary: RepairSummary = {
    reread: {},
    pushed: 0,
    driftBefore: results.reduce((sum, r) => sum + r.drift, 0),
    findingsBefore: totals(results),
  };
  const personIds = new Set<string>();
  for (const [index, { repair }] of verified.entries()) {
    const profile = profiles[index] as EntityProfile;
    const count = await reread(services, profile.logicalName, repair.rowIds, log);
    if (count > 0) summary.reread[profile.logicalName] = count;
    for (const id of repair.personIds) personIds.add(id);
  }
  if (personIds.size > 0) {
    const people = services.recordsFor('people');
    const docs = (await Promise.all([...personIds].map((id) => people.read(id)))).filter(
      (doc) => doc !== undefined,
    );
    // A fresh attempt of each edit, as an operator's retry gives; still failing, it is retried and parked as usual.
    const pushed = await services.sync.pushDocuments(docs, { attempt: 1, force: true }, log);
    summary.pushed = pushed.pushed + pushed.settled;
  }
  return summary;
}

function totals(results: readonly VerifyResult[]): Record<VerifyCode, number> {
  const out = Object.fromEntries(VERIFY_CODES.map((code) => [code, 0])) as Record<VerifyCode, number>;
  for (const result of results) for (const code of VERIFY_CODES) out[code] += result.findings[code];
  return out;
}

export interface VerifyRequest {
  entities?: readonly string[];
  repair?: boolean;
  reason: VerifyJob['reason'];
  /** The timer slot; default now (an operator's request). */
  slot?: string;
}

/**
 * Queues one verify job per entity on pull-jobs, in the entity's session (POST /api/verify and the
 * verify timer): a verify reads whole tables, longer than an HTTP request should last.
 */
export async function enqueueVerify(services: AppServices, request: VerifyRequest): Promise<VerifyJob[]> {
  const entities = [...new Set(request.entities ?? services.env.SYNC_ENTITIES)];
  for (const entity of entities) services.sync.actions.enabledEntity(entity);
  const slot = request.slot ?? new Date().toISOString();
  const correlationId = randomUUID();
  const jobs = entities.map((entity) =>
    verifyJobSchema.parse({
      kind: 'verify',
      entity,
      reason: request.reason,
      repair: request.repair === true,
      correlationId,
      slot,
    }),
  );
  await services.queue.send(
    services.env.PULL_JOBS_QUEUE,
    jobs.map((job) => ({
      body: job,
      messageId: verifyJobMessageId(job),
      sessionId: job.entity,
      correlationId,
      subject: 'verify',
    })),
  );
  return jobs;
}

/**
 * Runs a verify job from pull-jobs and settles its message: a malformed one is dead-lettered with
 * its reason; a failure that may pass (Cosmos DB or Dynamics not answering) abandons it for a
 * redelivery; anything else completes, its result (an error included) kept for the status page.
 */
export async function runVerifyJob(
  services: AppServices,
  body: unknown,
  settlement: MessageSettlement,
  scope: { log: Logger; metrics?: Pick<SyncMetrics, 'verifyDrift'> },
): Promise<VerifyReport | undefined> {
  const parsed = parseMessageBody(body, verifyJobSchema);
  if (!parsed.ok) {
    scope.log.error('malformed verify job', { reason: parsed.reason });
    await settlement.deadLetter('InvalidVerifyJob', parsed.reason.slice(0, 1024));
    return undefined;
  }
  const job = parsed.value;
  const log = scope.log.child({ entity: job.entity, correlationId: job.correlationId });
  let report: VerifyReport;
  try {
    report = await verifyDrift(services, {
      entities: [job.entity],
      repair: job.repair,
      log,
      ...(scope.metrics !== undefined ? { metrics: scope.metrics } : {}),
    });
  } catch (error) {
    if (isRetryable(error)) {
      await settlement.abandon().catch(() => undefined);
      throw error;
    }
    log.error('verify job failed', { error: describeError(error) });
    await settlement.deadLetter('VerifyFailed', describeError(error).slice(0, 1024));
    return undefined;
  }
  await settlement.complete();
  return report;
}
