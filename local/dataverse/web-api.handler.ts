import type { TableState, WriteResult } from './data.store';
import {
  merge,
  mergeRows,
  qualify,
  qualifyLead,
  retrieveUserPrivileges,
  whoAmI,
  type CreatedRecord,
} from './actions.handler';
import { parseBody, resolveReference, type ParsedBody } from './body.parser';
import {
  addItemCampaign,
  addListMembersList,
  addMemberList,
  removeItemCampaign,
  removeMemberList,
} from './marketing-list.handler';
import { entityDefinitions } from './metadata.handler';
import { count, query, retrieve } from './query.handler';
import { projectRow } from './row.serializer';
import { DataverseSimulatorError, errors } from './simulator.errors';
import { create, remove, upsert, writeRow } from './write.handler';
import type { ApiRequest, ApiResponse, WebApiContext } from './web-api.protocol';
import { errorResponse, GUID } from './web-api.protocol';

export { errorResponse, type ApiRequest, type ApiResponse, type WebApiContext } from './web-api.protocol';

/** A handler's parameters after the context (or store) it is given first. */
type AfterContext<F> = F extends (context: never, ...rest: infer R) => unknown ? R : never;

interface Operation<Args extends unknown[]> {
  /** Functions are read with GET, actions are run with POST. */
  method: 'GET' | 'POST';
  run: (ctx: WebApiContext, req: ApiRequest, ...args: Args) => ApiResponse;
}

/** Functions and actions bound to a row (`<set>(<id>)/Microsoft.Dynamics.CRM.<name>`), by name and table. */
const BOUND: Record<string, Operation<[string]> & { table: string }> = {
  QualifyLead: { table: 'lead', method: 'POST', run: qualifyLead },
  AddMemberList: { table: 'list', method: 'POST', run: addMemberList },
  RemoveMemberList: { table: 'list', method: 'POST', run: removeMemberList },
  RetrieveUserPrivileges: { table: 'systemuser', method: 'GET', run: retrieveUserPrivileges },
};

/** Unbound functions and actions, called at the API root. */
const UNBOUND: Record<string, Operation<[]>> = {
  WhoAmI: { method: 'GET', run: whoAmI },
  Merge: { method: 'POST', run: merge },
  AddListMembersList: { method: 'POST', run: addListMembersList },
  AddItemCampaign: { method: 'POST', run: addItemCampaign },
  RemoveItemCampaign: { method: 'POST', run: removeItemCampaign },
};

/**
 * The Web API proper: one request in, one response out, synchronously against the store. This
 * class only routes; each kind of request is answered by its own handler module.
 */
export class WebApi {
  constructor(private readonly ctx: WebApiContext) {}

  handle(req: ApiRequest): ApiResponse {
    try {
      return this.route(req);
    } catch (err) {
      if (err instanceof DataverseSimulatorError) return errorResponse(err);
      throw err;
    }
  }

  // The control API's entry points: what it does "as a Dynamics user" goes through the same code.

  project(...args: AfterContext<typeof projectRow>): Record<string, unknown> {
    return projectRow(this.ctx.store, ...args);
  }

  resolveReference(...args: AfterContext<typeof resolveReference>): ReturnType<typeof resolveReference> {
    return resolveReference(this.ctx, ...args);
  }

  parseBody(...args: AfterContext<typeof parseBody>): ParsedBody {
    return parseBody(this.ctx, ...args);
  }

  writeRow(...args: AfterContext<typeof writeRow>): WriteResult {
    return writeRow(this.ctx.store, ...args);
  }

  qualify(...args: AfterContext<typeof qualify>): CreatedRecord[] {
    return qualify(this.ctx, ...args);
  }

  mergeRows(...args: AfterContext<typeof mergeRows>): void {
    mergeRows(this.ctx, ...args);
  }

  /** Runs one of the handler modules' operations in this API's context, as a Dynamics user would. */
  withContext<A extends unknown[], R>(operation: (ctx: WebApiContext, ...args: A) => R, ...args: A): R {
    return operation(this.ctx, ...args);
  }

  /** The organisation WhoAmI names; a sandbox copy or refresh gives the organisation a new one. */
  get organizationId(): string {
    return this.ctx.organizationId;
  }

  set organizationId(id: string) {
    this.ctx.organizationId = id;
  }

  private route(req: ApiRequest): ApiResponse {
    const ctx = this.ctx;
    const path = decodeURIComponent(req.path).replace(/^\/+/, '');
    const method = req.method.toUpperCase();
    let m: RegExpExecArray | null;
    if (
      (m = /^(?:Microsoft\.Dynamics\.CRM\.)?([A-Za-z]+)(?:\(\))?$/.exec(path)) &&
      Object.hasOwn(UNBOUND, m[1] as string)
    ) {
      const op = UNBOUND[m[1] as string] as Operation<[]>;
      if (method !== op.method) throw errors.methodNotAllowed();
      return op.run(ctx, req);
    }
    if (
      (m =
        /^EntityDefinitions(?:\(([^)]*)\))?(?:\/(Attributes)(?:\(([^)]*)\))?(?:\/Microsoft\.Dynamics\.CRM\.([A-Za-z]+))?)?$/.exec(
          path,
        ))
    ) {
      if (method !== 'GET') throw errors.methodNotAllowed();
      return entityDefinitions(
        ctx,
        {
          ...(m[1] !== undefined ? { table: m[1] } : {}),
          attributes: m[2] !== undefined,
          ...(m[3] !== undefined ? { attribute: m[3] } : {}),
          ...(m[4] !== undefined ? { cast: m[4] } : {}),
        },
        req,
      );
    }
    if ((m = /^([A-Za-z0-9_]+)\(([^)]*)\)\/Microsoft\.Dynamics\.CRM\.([A-Za-z]+)(?:\(\))?$/.exec(path))) {
      const state = this.tableOf(m[1] as string);
      const name = m[3] as string;
      const op = Object.hasOwn(BOUND, name) ? BOUND[name] : undefined;
      if (!op || op.table !== state.def.logicalName)
        throw errors.resourceNotFound(`Microsoft.Dynamics.CRM.${name}`);
      if (method !== op.method) throw errors.methodNotAllowed();
      return op.run(ctx, req, this.keyOf(m[2] as string, state));
    }
    if ((m = /^([A-Za-z0-9_]+)\/\$count$/.exec(path))) {
      if (method !== 'GET') throw errors.methodNotAllowed();
      return count(ctx, this.tableOf(m[1] as string), req);
    }
    if ((m = /^([A-Za-z0-9_]+)\(([^)]*)\)$/.exec(path))) {
      const state = this.tableOf(m[1] as string);
      const id = this.keyOf(m[2] as string, state);
      switch (method) {
        case 'GET':
          return retrieve(ctx, state, id, req);
        case 'PATCH':
          return upsert(ctx, state, id, req);
        case 'DELETE':
          return remove(ctx, state, id, req);
        default:
          throw errors.methodNotAllowed();
      }
    }
    if ((m = /^([A-Za-z0-9_]+)$/.exec(path))) {
      const state = this.tableOf(m[1] as string);
      if (method === 'GET') return query(ctx, state, req);
      if (method === 'POST') return create(ctx, state, req);
      throw errors.methodNotAllowed();
    }
    throw errors.resourceNotFound(path.split('/')[0] ?? path);
  }

  private tableOf(set: string): TableState {
    const state = this.ctx.store.tableBySet(set);
    if (!state) throw errors.resourceNotFound(set);
    return state;
  }

  /** The row id in `(id)` or `(primarykey=id)`; alternate keys are not defined here, as in a fresh org. */
  private keyOf(key: string, state: TableState): string {
    const k = key.trim();
    const named = /^([a-z0-9_]+)=(.+)$/.exec(k);
    const value = named ? (named[2] as string) : k;
    if (named && named[1] !== state.def.primaryKey) {
      throw errors.badRequest(
        `The key used to reference ${state.def.logicalName} is not defined: ${named[1] ?? ''}. Define an alternate key first.`,
      );
    }
    if (!GUID.test(value)) throw errors.badRequest(`Bad Request - Error in query syntax.`);
    return value.toLowerCase();
  }
}
