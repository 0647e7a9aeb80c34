import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Container } from '@azure/cosmos';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { createAppServices, type AppServices } from '../../shared/app/app.services';
import { CONTAINERS, type ContainerKey } from '../../shared/config/entity.catalog';
import type { PushSummary } from '../../shared/sync/push.use-case';
import { quietLog } from './pull-stack.fixture';

export type Doc = Record<string, unknown> & { id: string };
export type SimRow = Record<string, unknown>;

/** Lists, members, connections and the multi-select column, on top of the people they relate. */
export const RELATION_ENTITIES =
  'lead,contact,account,opportunity,list,listmember,campaign,campaignitem,connectionrole,connection';

export interface RelationsStack {
  stack: LocalStack;
  services: AppServices;
  container(key: ContainerKey): Container;
  all(key: ContainerKey): Promise<Doc[]>;
  doc(key: ContainerKey, id: string): Promise<Doc>;
  /** Pulls each entity in turn until it is caught up. */
  pull(...entities: string[]): Promise<void>;
  /** Pushes the people documents as the change feed would deliver them. */
  push(ids: readonly string[]): Promise<PushSummary>;
  /** A marketing-side edit of a person, written as the marketing application would. */
  edit(id: string, values: Record<string, unknown>): Promise<void>;
  rows(table: string): SimRow[];
  close(): Promise<void>;
}

/**
 * The app's own composition (createAppServices) over the local stand-ins, without the functions
 * host: the test decides when each pull and push runs. `interests` maps the simulator's
 * multi-select column both ways.
 */
export async function startRelationsStack(seed: number, records = 60): Promise<RelationsStack> {
  const dir = await mkdtemp(join(tmpdir(), 'relations-'));
  const config = join(dir, 'sync-config.json');
  const interests = { marketing: 'interests', dynamics: 'new_interests', direction: 'both' };
  await writeFile(config, JSON.stringify({ fields: { lead: [interests], contact: [interests] } }));
  const stack = await startLocalStack({
    records,
    seed,
    withoutHost: true,
    env: { SYNC_ENTITIES: RELATION_ENTITIES, SYNC_CONFIG: config },
  });
  // A small seed has two lists; a dynamic one and a lead list are the cases the tests need besides.
  const control = stack.dataverse.control;
  control.createRow('list', {
    listname: 'Seattle (dynamic)',
    type: true,
    createdfromcode: 2,
    query:
      '<fetch><entity name="contact"><filter><condition attribute="address1_city" operator="eq" value="Seattle"/></filter></entity></fetch>',
  });
  const leadList = control.createRow('list', { listname: 'Lead nurture', type: false, createdfromcode: 4 });
  const leads = control.listRows('lead', { limit: 3 }).map((lead) => String(lead.leadid));
  control.addListMembers(String(leadList.listid), leads);
  const services = await createAppServices(stack.env, {
    tuning: { pushRetry: { baseMs: 60_000, maxMs: 60_000 } },
  });
  const container = (key: ContainerKey) =>
    services.cosmos.database('marketing').container(CONTAINERS[key].id);
  const all = async (key: ContainerKey) =>
    (await container(key).items.query<Doc>('SELECT * FROM c').fetchAll()).resources;
  const doc = async (key: ContainerKey, id: string) => {
    const { resource } = await container(key).item(id, id).read<Doc>();
    if (resource === undefined) throw new Error(`no ${key} document ${id}`);
    return resource;
  };
  return {
    stack,
    services,
    container,
    all,
    doc,
    pull: async (...entities) => {
      for (const entity of entities) {
        const result = await services.sync.pullEntity(entity, {}, { log: quietLog });
        if (result.outcome !== 'done') throw new Error(`pull of ${entity} ended ${result.outcome}`);
      }
    },
    push: async (ids) => {
      const docs = await Promise.all(ids.map((id) => doc('people', id)));
      return services.sync.pushDocuments(docs, {}, quietLog);
    },
    edit: async (id, values) => {
      const current = await doc('people', id);
      await container('people').items.upsert({ ...current, ...values });
    },
    rows: (table) => stack.dataverse.control.listRows(table, { limit: 100_000 }),
    close: async () => {
      await services.close();
      await stack.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
