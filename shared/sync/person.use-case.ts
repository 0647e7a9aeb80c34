import { z } from 'zod';
import type { DataverseError } from '../dataverse/dataverse.errors';
import type { EntityProfile } from '../domain/entity.profile';
import {
  FORGOTTEN_KEY,
  idKeyOf,
  incomingMarketingValues,
  marketingValues,
  type PersonTable,
} from '../domain/person.values';
import { pendingEdits, pushStateOf, type PushState } from '../domain/push.planner';
import { personRecordSchema, type FieldValues, type PersonRecord } from '../domain/record.model';
import { mapRow } from '../domain/row.mapper';
import type { SyncErrorRecord } from '../domain/sync-error.model';
import { AppError } from '../errors/app.errors';
import type { ErrorLog, OwnerRef, PeopleQueries, PersonRowGateway, RecordStore } from './ports';

const guid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID');

export const ownerRequestSchema = z.strictObject({
  ownerId: guid,
  ownerType: z.enum(['systemuser', 'team']).default('systemuser'),
});

export const taskRequestSchema = z.strictObject({
  subject: z.string().trim().min(1).max(200),
  description: z.string().max(2000).optional(),
  dueDate: z.iso.date().optional(),
  ownerId: guid.optional(),
  priority: z.enum(['low', 'normal', 'high']).optional(),
});

/** The reference's default: a task without a due date is due in five days. */
export const DEFAULT_TASK_DUE_DAYS = 5;

export interface PersonView {
  id: string;
  type: PersonTable | null;
  marketing: FieldValues;
  dynamics: {
    table: PersonTable;
    rowId: string;
    values: FieldValues;
    /** False when Dynamics could not be read: `values` are then the stored copy. */
    live: boolean;
    error: string | null;
  } | null;
  agreed: FieldValues;
  pendingEdits: FieldValues;
  push: PushState | null;
  openErrors: Pick<SyncErrorRecord, 'id' | 'entity' | 'operation' | 'code' | 'message' | 'at'>[];
  flags: { excluded: boolean; deletedInDynamics: boolean; mergedInto: string | null; forgotten: boolean };
}

export type PersonActionCode =
  'not_found' | 'not_linked' | 'unknown_owner' | 'owner_disabled' | 'rejected' | 'forgotten';

/** A person action that cannot be done as asked; the message says why and what to do. */
export class PersonActionError extends AppError<PersonActionCode> {
  constructor(code: PersonActionCode, message: string) {
    super('PersonActionError', code, message, false);
  }
}

export interface PersonActionDeps {
  people: RecordStore;
  queries: PeopleQueries;
  rows: PersonRowGateway;
  errors: ErrorLog;
  profiles: Record<PersonTable, EntityProfile>;
  now?: () => Date;
}

/**
 * The person pages and actions of the console and the CLI: a person side by side with the live
 * Dynamics row, Change Owner, Create Task, and forgetting a person on request. Writes to Dynamics go
 * through the same gateway, client and throttle governor as the sync.
 */
export class PersonActions {
  private readonly now: () => Date;

  constructor(private readonly deps: PersonActionDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async view(id: string): Promise<PersonView | undefined> {
    const raw = await this.deps.people.read(id);
    if (raw === undefined || raw.entity !== 'person') return undefined;
    return this.viewOf(raw);
  }

  async byEmail(email: string): Promise<PersonView[]> {
    const found = await this.deps.queries.byEmail(email, 10);
    return Promise.all(found.map((raw) => this.viewOf(raw)));
  }

  /** Change Owner in Dynamics: the owner must exist and, for a user, be enabled. */
  async changeOwner(
    id: string,
    owner: OwnerRef,
  ): Promise<{ table: PersonTable; rowId: string; ownerId: string; ownerType: OwnerRef['type'] }> {
    const { table, rowId } = await this.linkedRow(id);
    const found = await this.deps.rows.readOwner(owner);
    if (found.kind === 'rejected' && found.error.code === 'not_found') {
      throw new PersonActionError(
        'unknown_owner',
        `no ${owner.type} with id ${owner.id} in Dynamics; pick an existing owner`,
      );
    }
    if (found.kind !== 'accepted') throw failure(found, `reading owner ${owner.id}`);
    if (owner.type === 'systemuser' && (found.body as { isdisabled?: unknown })?.isdisabled === true) {
      throw new PersonActionError(
        'owner_disabled',
        `user ${owner.id} is disabled in Dynamics and cannot own records; pick an enabled user or a team`,
      );
    }
    const assigned = await this.deps.rows.assign(this.deps.profiles[table], rowId, owner);
    if (assigned.kind !== 'accepted') throw failure(assigned, `assigning ${table} ${rowId}`);
    return { table, rowId, ownerId: owner.id, ownerType: owner.type };
  }

  /** Create Task in Dynamics regarding the person's row (its contact, else its lead). */
  async createTask(id: string, request: z.output<typeof taskRequestSchema>): Promise<{ taskId: string }> {
    const { table, rowId } = await this.linkedRow(id, 'contact');
    const due =
      request.dueDate !== undefined
        ? `${request.dueDate}T12:00:00Z`
        : new Date(this.now().getTime() + DEFAULT_TASK_DUE_DAYS * 86_400_000).toISOString();
    const created = await this.deps.rows.createTask({
      regarding: { profile: this.deps.profiles[table], rowId },
      subject: request.subject,
      dueAt: due,
      ...(request.description !== undefined ? { description: request.description } : {}),
      ...(request.priority !== undefined ? { priority: PRIORITY[request.priority] } : {}),
      ...(request.ownerId !== undefined ? { owner: { id: request.ownerId, type: 'systemuser' } } : {}),
    });
    if (created.kind !== 'accepted') throw failure(created, `creating a task regarding ${table} ${rowId}`);
    const taskId = (created.body as { activityid?: unknown } | undefined)?.activityid;
    if (typeof taskId !== 'string')
      throw new PersonActionError('rejected', 'Dynamics created the task but did not return its id');
    return { taskId };
  }

  /**
   * Removes the person's personal data from the marketing side and keeps only what stops the next
   * pull from bringing it back: the document id, its Dynamics row ids and the mark. Dynamics keeps
   * its rows; nothing is deleted there.
   */
  async forget(id: string, by: string): Promise<void> {
    const raw = await this.deps.people.read(id);
    if (raw === undefined || raw.entity !== 'person')
      throw new PersonActionError('not_found', `no person ${id}`);
    const dynamics = (raw.dynamics ?? {}) as Record<string, unknown>;
    const kept: Record<string, unknown> = {
      id,
      entity: 'person',
      type: raw.type === 'lead' || raw.type === 'contact' ? raw.type : 'contact',
      dynamics: {
        ...(typeof dynamics.leadId === 'string' ? { leadId: dynamics.leadId } : {}),
        ...(typeof dynamics.contactId === 'string' ? { contactId: dynamics.contactId } : {}),
        etag: '',
        versionnumber: typeof dynamics.versionnumber === 'number' ? dynamics.versionnumber : 0,
        modifiedon: null,
      },
      sync: { updatedAt: this.now().toISOString(), agreed: {} },
      [FORGOTTEN_KEY]: { at: this.now().toISOString(), by },
    };
    await this.replace(raw, kept);
  }

  /** Lifts the suppression: the next change of its rows in Dynamics (or a resync) brings the data back. */
  async unforget(id: string): Promise<void> {
    const raw = await this.deps.people.read(id);
    if (raw === undefined || raw.entity !== 'person')
      throw new PersonActionError('not_found', `no person ${id}`);
    const { [FORGOTTEN_KEY]: _mark, ...rest } = raw;
    const dynamics = (rest.dynamics ?? {}) as Record<string, unknown>;
    // Version 0: any version Dynamics holds is newer, so the next read of the row writes it in full.
    await this.replace(raw, { ...rest, dynamics: { ...dynamics, versionnumber: 0 } });
  }

  private async replace(current: Record<string, unknown>, next: Record<string, unknown>): Promise<void> {
    const etag = typeof current._etag === 'string' ? current._etag : undefined;
    const body = Object.fromEntries(
      Object.entries(next).filter(([key]) => !key.startsWith('_')),
    ) as PersonRecord;
    const outcome = await this.deps.people.write(
      [body],
      new Map(etag !== undefined ? [[body.id, etag]] : []),
    );
    if (outcome.conflicts.length > 0) {
      throw new PersonActionError('rejected', `person ${body.id} changed while this ran; try again`);
    }
  }

  /** The row an action acts on: the preferred table's when the person holds both. */
  private async linkedRow(id: string, prefer?: PersonTable): Promise<{ table: PersonTable; rowId: string }> {
    const raw = await this.deps.people.read(id);
    if (raw === undefined || raw.entity !== 'person')
      throw new PersonActionError('not_found', `no person ${id}`);
    if (raw[FORGOTTEN_KEY] !== undefined)
      throw new PersonActionError('forgotten', `person ${id} was forgotten on request`);
    const dynamics = (raw.dynamics ?? {}) as Record<string, unknown>;
    const order: PersonTable[] =
      prefer === 'contact'
        ? ['contact', 'lead']
        : raw.type === 'lead'
          ? ['lead', 'contact']
          : ['contact', 'lead'];
    for (const table of order) {
      const rowId = dynamics[idKeyOf(table)];
      if (typeof rowId === 'string') return { table, rowId };
    }
    throw new PersonActionError(
      'not_linked',
      `person ${id} is not in Dynamics yet; sync it to Dynamics first (POST /api/persons/${id}/sync-to-dynamics)`,
    );
  }

  private async viewOf(raw: Record<string, unknown>): Promise<PersonView> {
    const id = String(raw.id);
    const type = raw.type === 'lead' || raw.type === 'contact' ? raw.type : null;
    const rules = this.deps.profiles[type ?? 'lead'].personFields;
    const record = personRecordSchema.safeParse(raw);
    const person = record.success ? record.data : undefined;
    const dynamics = (raw.dynamics ?? {}) as Record<string, unknown>;
    const rowId = type !== null ? dynamics[idKeyOf(type)] : undefined;
    let dynamicsView: PersonView['dynamics'] = null;
    if (type !== null && typeof rowId === 'string' && raw[FORGOTTEN_KEY] === undefined) {
      const profile = this.deps.profiles[type];
      const [read] = await this.deps.rows.read([{ profile, rowId }]);
      const mapped = read?.kind === 'accepted' ? mapRow(profile, read.body) : undefined;
      if (mapped?.ok) {
        dynamicsView = {
          table: type,
          rowId,
          values: incomingMarketingValues(rules, mapped.row),
          live: true,
          error: null,
        };
      } else {
        const source = person?.dynamics[type];
        const error =
          read === undefined || read.kind === 'accepted'
            ? 'Dynamics returned a row the sync cannot read'
            : read.kind === 'rejected' || read.kind === 'transient'
              ? read.error.message
              : `Dynamics answered ${read.kind}`;
        dynamicsView = { table: type, rowId, values: source?.values ?? {}, live: false, error };
      }
    }
    const errorIds = [
      id,
      ...(['leadId', 'contactId'] as const).flatMap((key) =>
        typeof dynamics[key] === 'string' ? [dynamics[key] as string] : [],
      ),
    ];
    const openErrors = await this.deps.errors.openFor(errorIds);
    return {
      id,
      type,
      marketing: marketingValues(raw, rules),
      dynamics: dynamicsView,
      agreed: person?.sync.agreed ?? {},
      pendingEdits: person !== undefined ? pendingEdits(person, rules) : {},
      push: pushStateOf(raw) ?? null,
      openErrors: openErrors.map(({ id: errorId, entity, operation, code, message, at }) => ({
        id: errorId,
        entity,
        operation,
        code,
        message,
        at,
      })),
      flags: {
        excluded: person?.sync.excluded !== undefined,
        deletedInDynamics: person?.sync.deletedInDynamics !== undefined,
        mergedInto: person?.sync.merged?.into ?? null,
        forgotten: raw[FORGOTTEN_KEY] !== undefined,
      },
    };
  }
}

const PRIORITY = { low: 0, normal: 1, high: 2 } as const;

/** A Dataverse answer the action cannot go on from: a refusal the caller sees, or a transient error. */
function failure(outcome: { kind: string; error?: DataverseError }, doing: string): Error {
  if (outcome.kind === 'transient' && outcome.error !== undefined) return outcome.error;
  if (outcome.kind === 'rejected' && outcome.error !== undefined) {
    return new PersonActionError('rejected', `${doing}: Dynamics refused: ${outcome.error.message}`);
  }
  return new PersonActionError('rejected', `${doing}: Dynamics answered ${outcome.kind}`);
}
