import { z } from 'zod';
import { DataverseError } from '../dataverse/dataverse.errors';
import type { EntityProfile } from '../domain/entity.profile';
import {
  createBody,
  emailOf,
  linkPerson,
  marketingPersonSchema,
  pushStateOf,
  reserveCreate,
  rowIdFor,
  SYNC_REQUEST_KEY,
  SYNC_RESULT_KEY,
  withPushState,
  type MarketingPerson,
} from '../domain/push.planner';
import type { PersonRecord } from '../domain/record.model';
import { mapRow, type MappedRow } from '../domain/row.mapper';
import type { Logger } from '../telemetry/logger';
import type { OwnerRules } from '../config/sync-config.schema';
import { ownerProblem } from '../domain/owner.rules';
import type { ErrorSink, OwnerDirectory, PersonRowGateway, RecordStore, RowOutcome } from './ports';
import type { PersonTable } from '../domain/person.values';

export const createPersonRequestSchema = z.object({
  personId: z.string().min(1).max(255),
  as: z.enum(['lead', 'contact']).default('lead'),
  ownerId: z
    .string()
    .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID')
    .optional(),
  /** The requested owner's email, for mapping an owner id of another environment (SYNC_CONFIG owners). */
  ownerEmail: z.string().email().optional(),
});
export type CreatePersonRequest = z.input<typeof createPersonRequestSchema>;

export type CreatePersonResult =
  | {
      status: 'created' | 'linked' | 'exists';
      table: PersonTable;
      rowId: string;
      /** Created with another owner than the one asked for (recorded as an `owner_fallback` error too). */
      warning?: string;
    }
  /** The Dynamics row found by email already belongs to another person document. */
  | { status: 'duplicate'; table: PersonTable; rowId: string; otherPersonId: string }
  | { status: 'not_found' }
  | { status: 'rejected'; code: string; message: string };

export interface CreatePersonDeps {
  rows: PersonRowGateway;
  /** The people container, with the alias registry a first load consults before writing create-only. */
  people: RecordStore;
  profiles: Record<PersonTable, EntityProfile>;
  errors: ErrorSink;
  log: Logger;
  /** Checks the requested owner against the directory (absent: Dynamics alone judges it). */
  owners?: { directory: OwnerDirectory; rules: OwnerRules };
  now?: () => Date;
}

const MAX_WRITE_ATTEMPTS = 5;

/**
 * "Sync person to Dynamics": links a marketing-only person to an existing lead or contact with
 * the same email, or creates one with an id derived from the person through PATCH +
 * If-None-Match: *, so a retried or concurrent create of the same person makes one row.
 * Transient failures are thrown: the caller (an HTTP action) retries, and every step is idempotent.
 */
export class CreatePersonUseCase {
  private readonly now: () => Date;

  constructor(private readonly deps: CreatePersonDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async run(input: CreatePersonRequest): Promise<CreatePersonResult> {
    const request = createPersonRequestSchema.parse(input);
    const result = await this.attempt(request);
    if (result.status === 'created' || result.status === 'linked' || result.status === 'exists') {
      // The person is in Dynamics now: earlier failures to create it are over.
      await this.deps.errors.resolve(result.table, [request.personId], this.now().toISOString(), 'push');
    }
    if ((result.status === 'created' || result.status === 'exists') && result.warning !== undefined) {
      // After the resolve above: the row exists, but not with the owner asked for, and someone should know.
      await this.deps.errors.record({
        entity: result.table,
        recordId: request.personId,
        operation: 'push',
        code: 'owner_fallback',
        message: result.warning,
        at: this.now().toISOString(),
      });
      this.deps.log.warn('created with the default owner', {
        personId: request.personId,
        table: result.table,
      });
    }
    if (result.status !== 'not_found') await this.settleRequest(request.personId, result);
    return result;
  }

  /**
   * A person that asked to be created (`syncToDynamics`) gets the outcome in place of the request,
   * so the pusher does not act on it again; an operator's action settles a pending request too.
   */
  private async settleRequest(personId: string, result: CreatePersonResult): Promise<void> {
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt += 1) {
      const raw = await this.deps.people.read(personId);
      if (raw === undefined || raw[SYNC_REQUEST_KEY] === undefined) return;
      const { [SYNC_REQUEST_KEY]: _request, ...rest } = raw;
      const outcome = {
        ...result,
        ...(result.status === 'exists' ? { status: 'already-linked' } : {}),
        at: this.now().toISOString(),
      };
      const body = Object.fromEntries(
        Object.entries({ ...rest, [SYNC_RESULT_KEY]: outcome }).filter(([key]) => !key.startsWith('_')),
      ) as PersonRecord;
      const etag = typeof raw._etag === 'string' ? raw._etag : undefined;
      const written = await this.deps.people.write(
        [body],
        new Map(etag !== undefined ? [[personId, etag]] : []),
      );
      if (written.conflicts.length === 0) return;
    }
    this.deps.log.warn('the sync-to-Dynamics request stayed on the person: it kept changing', { personId });
  }

  private async attempt(request: z.output<typeof createPersonRequestSchema>): Promise<CreatePersonResult> {
    const raw = await this.deps.people.read(request.personId);
    if (raw === undefined) return { status: 'not_found' };
    const parsed = marketingPersonSchema.safeParse(raw);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      return this.reject(request.personId, request.as, 'invalid_document', message);
    }
    let person = parsed.data;
    const linked = this.linkedRow(person);
    if (linked !== undefined && linked.linked) return { status: 'exists', ...linked.target };

    let target = linked?.target;
    if (target === undefined) {
      const found = await this.findByEmail(person);
      if (found !== undefined) return this.linkFound(person, found);
      const table = request.as;
      const rowId = rowIdFor(person.id, table);
      const reserved = await this.reserve(person, table, rowId);
      if (reserved.kind === 'linked') return { status: 'exists', ...reserved.target };
      person = reserved.person;
      target = reserved.target;
    }
    const owner = await this.ownerFor(person, target.table, request);
    if ('refusal' in owner) {
      return this.reject(person.id, target.table, 'owner_unavailable', owner.refusal, person);
    }
    const result = await this.create(person, target.table, target.rowId, owner.ownerId);
    return owner.warning !== undefined && (result.status === 'created' || result.status === 'exists')
      ? { ...result, warning: owner.warning }
      : result;
  }

  /**
   * The owner a create names: the one asked for when it can own rows here; one with the same email
   * when the id is another environment's (owners.mapByEmail); otherwise the configured default, with
   * a warning, or a refusal that says how to fix it. Never a silent change of owner.
   */
  private async ownerFor(
    person: MarketingPerson,
    table: PersonTable,
    request: z.output<typeof createPersonRequestSchema>,
  ): Promise<{ ownerId?: string; warning?: string } | { refusal: string }> {
    const owners = this.deps.owners;
    if (request.ownerId === undefined || owners === undefined) {
      return request.ownerId !== undefined ? { ownerId: request.ownerId } : {};
    }
    const id = request.ownerId.toLowerCase();
    let problem = ownerProblem((await owners.directory.byIds([id])).get(id));
    if (problem === 'unknown') {
      // The directory may not have synced a new user yet: Dynamics has the last word.
      const live = await this.deps.rows.readOwner({ id, type: 'systemuser' });
      if (live.kind === 'accepted') {
        problem = (live.body as { isdisabled?: unknown }).isdisabled === true ? 'disabled' : undefined;
      } else if (live.kind === 'transient') throw live.error;
    }
    if (problem === undefined) return { ownerId: id };
    if (problem === 'unknown' && owners.rules.mapByEmail) {
      const stored = (person as { owner?: { id?: unknown; email?: unknown } }).owner;
      const email =
        request.ownerEmail ??
        (stored?.id === id && typeof stored.email === 'string' ? stored.email : undefined);
      const match = email !== undefined ? (await owners.directory.usersByEmail(email))[0] : undefined;
      if (match !== undefined && !match.disabled) {
        this.deps.log.info('owner mapped by email', { personId: person.id, from: id, to: match.id });
        return { ownerId: match.id };
      }
    }
    const why =
      problem === 'disabled'
        ? `the requested owner ${id} is a disabled user in Dynamics`
        : `the requested owner ${id} is not a user of this Dynamics environment`;
    const fallback = owners.rules.default;
    if (fallback === undefined) {
      return {
        refusal: `${why}; name another owner, or set SYNC_CONFIG owners.default to create with a default owner${problem === 'unknown' ? ' (or owners.mapByEmail to map it by email)' : ''}`,
      };
    }
    return {
      ownerId: fallback.id,
      warning: `${why}: the ${table} was created with the default owner ${fallback.id} (SYNC_CONFIG owners.default); assign it to the right owner in Dynamics`,
    };
  }

  /** The row the person is (or is about to be) linked to; `linked` once the row has been read. */
  private linkedRow(
    person: MarketingPerson,
  ): { target: { table: PersonTable; rowId: string }; linked: boolean } | undefined {
    const dynamics = (person.dynamics ?? {}) as Record<string, unknown>;
    const type = person.type;
    for (const table of (type === 'contact' ? ['contact', 'lead'] : ['lead', 'contact']) as PersonTable[]) {
      const rowId = table === 'lead' ? person.dynamics?.leadId : person.dynamics?.contactId;
      if (rowId === undefined) continue;
      return { target: { table, rowId }, linked: dynamics[table] !== undefined };
    }
    return undefined;
  }

  /** One $batch of two reads: an active contact with this email wins over an active lead. */
  private async findByEmail(person: MarketingPerson): Promise<MappedRow | undefined> {
    const email = emailOf(person);
    if (email === undefined) return undefined;
    const tables: PersonTable[] = ['contact', 'lead'];
    const outcomes = await this.deps.rows.findActiveByEmail(
      tables.map((table) => this.deps.profiles[table]),
      email,
    );
    for (const [i, table] of tables.entries()) {
      const outcome = outcomes[i] as RowOutcome;
      if (outcome.kind !== 'accepted') throw failureOf(outcome, `looking up ${table}s by email`);
      const rows = (outcome.body as { value?: unknown[] } | undefined)?.value ?? [];
      for (const raw of rows) {
        const mapped = mapRow(this.deps.profiles[table], raw);
        if (mapped.ok && !mapped.row.merged) return mapped.row;
      }
    }
    return undefined;
  }

  private async linkFound(person: MarketingPerson, row: MappedRow): Promise<CreatePersonResult> {
    const table = row.table as PersonTable;
    const heldElsewhere = async (): Promise<CreatePersonResult | undefined> => {
      const others = await this.deps.people.findForPage([row.id]);
      const other = others.docs.find((doc) => doc.id !== person.id);
      if (other === undefined) return undefined;
      this.deps.log.warn('person already synced under another document', {
        personId: person.id,
        other: other.id,
      });
      return { status: 'duplicate', table, rowId: row.id, otherPersonId: other.id };
    };
    const before = await heldElsewhere();
    if (before !== undefined) return before;
    await this.registerAlias(row.id, person.id);
    // Once more after registering: a first load that checked the registry before the registration
    // may have written the row as its own person in between. Pulls after it put the row into this one.
    const after = await heldElsewhere();
    if (after !== undefined) return after;
    const written = await this.writeLinked(person, row);
    return written ? { status: 'linked', table, rowId: row.id } : { status: 'exists', table, rowId: row.id };
  }

  /** Names the row on the person before creating it, guarded by the person's _etag. */
  private async reserve(
    person: MarketingPerson,
    table: PersonTable,
    rowId: string,
  ): Promise<
    | { kind: 'reserved'; person: MarketingPerson; target: { table: PersonTable; rowId: string } }
    | { kind: 'linked'; target: { table: PersonTable; rowId: string } }
  > {
    let current = person;
    await this.registerAlias(rowId, person.id);
    for (let attempt = 1; ; attempt += 1) {
      const doc = reserveCreate(current, table, rowId, `create:${table}:${rowId}`, this.now().toISOString());
      const outcome = await this.deps.people.write([doc], this.etagOf(current));
      if (outcome.conflicts.length === 0) {
        const stored = await this.deps.people.read(person.id);
        const parsed = marketingPersonSchema.safeParse(stored ?? doc);
        return { kind: 'reserved', person: parsed.success ? parsed.data : doc, target: { table, rowId } };
      }
      // Someone else wrote the person meanwhile (maybe the same action, running twice): look again.
      const fresh = await this.deps.people.read(person.id);
      const parsed = marketingPersonSchema.safeParse(fresh);
      if (!parsed.success)
        throw new Error(`person ${person.id} disappeared or became invalid while being created`);
      current = parsed.data;
      const linked = this.linkedRow(current);
      if (linked?.linked) return { kind: 'linked', target: linked.target };
      if (linked !== undefined) return { kind: 'reserved', person: current, target: linked.target };
      if (attempt >= MAX_WRITE_ATTEMPTS)
        throw new Error(`person ${person.id} kept changing while being created`);
    }
  }

  private async create(
    person: MarketingPerson,
    table: PersonTable,
    rowId: string,
    ownerId: string | undefined,
  ): Promise<CreatePersonResult> {
    const profile = this.deps.profiles[table];
    const body = createBody(person, profile.personFields, ownerId, profile.constants);
    if (!body.ok) return this.reject(person.id, table, 'invalid_value', body.message, person);
    const created = await this.deps.rows.create(profile, rowId, body.body);
    let row: MappedRow | undefined;
    let status: 'created' | 'exists' = 'created';
    if (created.kind === 'accepted') row = this.rowOf(table, created.body);
    else if (created.kind === 'rejected') {
      return this.reject(person.id, table, created.error.code, created.error.message, person);
    } else if (created.kind !== 'exists') {
      throw failureOf(created, `creating ${table} ${rowId}`);
    } else {
      // A concurrent or earlier attempt created it: read it and link.
      status = 'exists';
      const [read] = await this.deps.rows.read([{ profile, rowId }]);
      if (read?.kind !== 'accepted') throw failureOf(read, `reading ${table} ${rowId}`);
      row = this.rowOf(table, read.body);
    }
    if (row === undefined) {
      throw new DataverseError(`${table} ${rowId}: Dynamics returned an unreadable row`, {
        code: 'bad_response',
        retryable: true,
      });
    }
    // Again here: a reservation made before markers existed has none.
    await this.registerAlias(row.id, person.id);
    const written = await this.writeLinked(person, row);
    return { status: written && status === 'created' ? 'created' : status, table, rowId };
  }

  /** Writes the link; if the pull linked the person first, its version stands. */
  private async writeLinked(person: MarketingPerson, row: MappedRow): Promise<boolean> {
    const table = row.table as PersonTable;
    let current: MarketingPerson = person;
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt += 1) {
      const doc = linkPerson(current, this.deps.profiles[table], row, this.now().toISOString());
      const outcome = await this.deps.people.write([doc], this.etagOf(current));
      if (outcome.conflicts.length === 0) return true;
      const fresh = marketingPersonSchema.safeParse(await this.deps.people.read(person.id));
      if (!fresh.success) return false;
      current = fresh.data;
      const dynamics = (current.dynamics ?? {}) as Record<string, unknown>;
      const source = dynamics[table] as { versionnumber?: number } | undefined;
      if (source !== undefined && (source.versionnumber ?? 0) >= row.versionnumber) return false;
    }
    throw new Error(`person ${person.id} kept changing while being linked`);
  }

  /**
   * Before a person holds a row under another id: a first load writing people create-only would
   * otherwise make that row a second person.
   */
  private async registerAlias(rowId: string, personId: string): Promise<void> {
    if (rowId === personId) return;
    await this.deps.people.registerAlias(rowId, personId);
  }

  private async reject(
    personId: string,
    table: PersonTable,
    code: string,
    message: string,
    person?: MarketingPerson,
  ): Promise<CreatePersonResult> {
    const at = this.now().toISOString();
    await this.deps.errors.record({
      entity: table,
      recordId: personId,
      operation: 'push',
      code,
      message: `sync person to Dynamics failed: ${message}`.slice(0, 2000),
      at,
    });
    if (person !== undefined && pushStateOf(person)?.status === 'creating') {
      // The person shows why; the reservation stays, so a retry after a fix creates the same row.
      const state = withPushState(person, {
        status: 'error',
        code,
        message: message.slice(0, 1000),
        at,
        signature: pushStateOf(person)?.signature ?? 'create',
      });
      await this.deps.people.write([state as unknown as PersonRecord], this.etagOf(person));
    }
    return { status: 'rejected', code, message };
  }

  private etagOf(person: MarketingPerson): Map<string, string> {
    return new Map(person._etag !== undefined ? [[person.id, person._etag]] : []);
  }

  private rowOf(table: PersonTable, body: unknown): MappedRow | undefined {
    const mapped = mapRow(this.deps.profiles[table], body);
    return mapped.ok ? mapped.row : undefined;
  }
}

/** A Dataverse answer the action cannot go on from, as the error to throw (transient ones are retried by the caller). */
function failureOf(outcome: RowOutcome | undefined, doing: string): DataverseError {
  if (outcome !== undefined && (outcome.kind === 'rejected' || outcome.kind === 'transient'))
    return outcome.error;
  return new DataverseError(`${doing}: Dynamics answered ${outcome?.kind ?? 'nothing'}`, {
    code: 'bad_response',
    retryable: true,
  });
}
