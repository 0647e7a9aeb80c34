import { z } from 'zod';
import { byListName, MEMBERSHIPS_KEY, type Membership } from './relations.rules';

/*
 * Marketing-side membership changes: the marketing application writes
 * `listRequests: [{"listId": "<guid>", "action": "add"|"remove"}]` on a person; the pusher carries
 * each out in Dynamics (AddMemberList / RemoveMemberList), removes it, and records what happened
 * under `listRequestResults` (the last RESULTS_KEPT).
 */

export const LIST_REQUESTS_KEY = 'listRequests';
export const LIST_RESULTS_KEY = 'listRequestResults';
export const RESULTS_KEPT = 20;

export const listRequestSchema = z.strictObject({
  listId: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID')
    .transform((id) => id.toLowerCase()),
  action: z.enum(['add', 'remove']),
});
export type ListRequest = z.output<typeof listRequestSchema>;

export interface ListRequestResult {
  listId: string;
  action: 'add' | 'remove';
  outcome: 'added' | 'removed' | 'failed';
  code?: string;
  message?: string;
  at: string;
}

/** A request as written, parsed or with what is wrong with it. */
export type ParsedRequest =
  { ok: true; request: ListRequest; raw: unknown } | { ok: false; raw: unknown; message: string };

/** The person's requests in order; undefined when it has none (no key, or an empty list). */
export function listRequestsOf(doc: object): ParsedRequest[] | undefined {
  const raw = (doc as Record<string, unknown>)[LIST_REQUESTS_KEY];
  if (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0)) return undefined;
  const items: unknown[] = Array.isArray(raw) ? raw : [raw];
  return items.map((item) => {
    const parsed = listRequestSchema.safeParse(item);
    if (parsed.success) return { ok: true, request: parsed.data, raw: item };
    return {
      ok: false,
      raw: item,
      message: `${LIST_REQUESTS_KEY} entry is malformed: ${parsed.error.issues
        .map((issue) => `${issue.path.join('.') || '(entry)'}: ${issue.message}`)
        .join('; ')}; expected {"listId": "<guid>", "action": "add"|"remove"}`,
    };
  });
}

/** What the sync needs to know about a list, from the row Dynamics returns. */
export interface ListFacts {
  id: string;
  name: string | null;
  dynamic: boolean;
  /** The table the list's members are rows of (createdfromcode 1 account, 2 contact, 4 lead). */
  memberTable: 'account' | 'contact' | 'lead' | null;
  active: boolean;
}

const MEMBER_TABLES: Record<number, ListFacts['memberTable']> = { 1: 'account', 2: 'contact', 4: 'lead' };

export function listFactsOf(body: unknown): ListFacts | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const row = body as Record<string, unknown>;
  if (typeof row.listid !== 'string') return undefined;
  return {
    id: row.listid.toLowerCase(),
    name: typeof row.listname === 'string' ? row.listname : null,
    dynamic: row.type === true,
    memberTable:
      typeof row.createdfromcode === 'number' ? (MEMBER_TABLES[row.createdfromcode] ?? null) : null,
    active: row.statecode === undefined || row.statecode === null || row.statecode === 0,
  };
}

export type MemberRow = { ok: true; entityId: string } | { ok: false; code: string; message: string };

/**
 * The person's row the list holds (its contact for a contact list, its lead for a lead list), or why
 * the change cannot be made. A dynamic list is read-only: its query decides who is a member.
 */
export function memberRowFor(
  dynamics: { leadId?: string; contactId?: string },
  list: ListFacts,
  action: ListRequest['action'],
): MemberRow {
  const named = `list "${list.name ?? '(no name)'}" (${list.id})`;
  if (list.dynamic) {
    return {
      ok: false,
      code: 'dynamic_list',
      message: `${named} is dynamic: Dynamics decides its members from the list's query, so nobody can be added or removed by hand; use a static list, or change the query in Dynamics`,
    };
  }
  if (!list.active && action === 'add') {
    return {
      ok: false,
      code: 'inactive_list',
      message: `${named} is inactive in Dynamics; activate it there or choose another list`,
    };
  }
  const table = list.memberTable;
  const entityId = table === 'contact' ? dynamics.contactId : table === 'lead' ? dynamics.leadId : undefined;
  if (entityId === undefined) {
    return {
      ok: false,
      code: 'wrong_member_type',
      message: `${named} holds ${table ?? 'unknown'} rows and this person has no ${table ?? 'such'} row in Dynamics; choose a list of ${dynamics.contactId !== undefined ? 'contacts' : 'leads'}`,
    };
  }
  return { ok: true, entityId };
}

/** The same request (a later copy of a request already carried out is carried out once). */
const sameRequest = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The person once these requests were carried out: they leave `listRequests` (which disappears
 * when empty; requests written meanwhile stay), their results are added, and a list joined or left
 * shows in `memberships` at once (the next pull of list members confirms it).
 */
export function withListResults<T extends object>(
  doc: T,
  done: readonly { raw: unknown; result: ListRequestResult; listName?: string | null }[],
): T {
  const source = doc as Record<string, unknown>;
  const pending = Array.isArray(source[LIST_REQUESTS_KEY])
    ? [...(source[LIST_REQUESTS_KEY] as unknown[])]
    : [];
  for (const { raw } of done) {
    const index = pending.findIndex((item) => sameRequest(item, raw));
    if (index >= 0) pending.splice(index, 1);
  }
  const previous = Array.isArray(source[LIST_RESULTS_KEY]) ? (source[LIST_RESULTS_KEY] as unknown[]) : [];
  let memberships = Array.isArray(source[MEMBERSHIPS_KEY])
    ? [...(source[MEMBERSHIPS_KEY] as Membership[])]
    : undefined;
  for (const { result, listName } of done) {
    if (result.outcome === 'failed') continue;
    memberships = (memberships ?? []).filter((m) => m.listId !== result.listId);
    // The list's campaigns come with the next pull of list members.
    if (result.outcome === 'added')
      memberships.push({ listId: result.listId, name: listName ?? null, campaigns: [] });
  }
  const { [LIST_REQUESTS_KEY]: _requests, ...rest } = source;
  return {
    ...rest,
    ...(pending.length > 0 ? { [LIST_REQUESTS_KEY]: pending } : {}),
    [LIST_RESULTS_KEY]: [...previous, ...done.map((d) => d.result)].slice(-RESULTS_KEPT),
    ...(memberships !== undefined
      ? {
          [MEMBERSHIPS_KEY]: memberships.sort(byListName),
        }
      : {}),
  } as T;
}
