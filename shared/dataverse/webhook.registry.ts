import type { WebhookEndpointInput, WebhookRegistry, WebhookStep } from '../sync/ports';
import type { DataverseClient } from './dataverse.client';
import { DataverseError } from './dataverse.errors';
import { and, asGuid, eq } from './odata.query';

/** `serviceendpoint.contract` of a webhook. */
const CONTRACT_WEBHOOK = 8;
/** `sdkmessageprocessingstep`: asynchronous, post-operation, on the server, its system jobs deleted when done. */
const ASYNC = 1;
const POST_OPERATION = 40;
const SERVER_ONLY = 0;

const text = (row: Record<string, unknown>, column: string): string => {
  const value = row[column];
  if (typeof value !== 'string') {
    throw new DataverseError(`Dataverse answered a row without ${column}`, {
      code: 'bad_response',
      retryable: false,
    });
  }
  return value;
};

/**
 * Webhook registration through the Web API: `serviceendpoints` (contract Webhook) and
 * `sdkmessageprocessingsteps` bound to an `sdkmessage` and its `sdkmessagefilter` for the table,
 * both looked up by name, never hard-coded (their ids differ between organisations).
 */
export class DataverseWebhookRegistry implements WebhookRegistry {
  private readonly messages = new Map<string, string | undefined>();

  constructor(private readonly client: DataverseClient) {}

  async findEndpoint(name: string): Promise<{ id: string; url: string; authtype: number } | undefined> {
    const rows = await this.rows('serviceendpoints', {
      $select: 'serviceendpointid,url,authtype',
      $filter: and(eq('name', name), eq('contract', CONTRACT_WEBHOOK)),
    });
    const row = rows[0];
    if (row === undefined) return undefined;
    return { id: text(row, 'serviceendpointid'), url: text(row, 'url'), authtype: Number(row.authtype) };
  }

  async createEndpoint(endpoint: WebhookEndpointInput): Promise<string> {
    const created = await this.client.create('serviceendpoints', {
      ...endpoint,
      contract: CONTRACT_WEBHOOK,
      description:
        'Dynamics marketing sync: a change notification starts a pull of the table (docs/realtime.md)',
    });
    return created.id;
  }

  async updateEndpoint(id: string, changes: Partial<WebhookEndpointInput>): Promise<void> {
    await this.client.update('serviceendpoints', id, changes);
  }

  async deleteEndpoint(id: string): Promise<void> {
    await this.client.delete('serviceendpoints', id);
  }

  async stepsOf(endpointId: string): Promise<WebhookStep[]> {
    const steps = await this.rows('sdkmessageprocessingsteps', {
      $select: 'sdkmessageprocessingstepid,_sdkmessageid_value,_sdkmessagefilterid_value',
      $filter: eq('_eventhandler_value', asGuid(endpointId)),
    });
    const out: WebhookStep[] = [];
    for (const step of steps) {
      const filterId = step._sdkmessagefilterid_value;
      const filter =
        typeof filterId === 'string'
          ? await this.client.get(`sdkmessagefilters(${filterId})`, { $select: 'primaryobjecttypecode' })
          : undefined;
      const message = await this.client.get(`sdkmessages(${text(step, '_sdkmessageid_value')})`, {
        $select: 'name',
      });
      out.push({
        id: text(step, 'sdkmessageprocessingstepid'),
        message: text(message, 'name'),
        table: filter === undefined ? '' : text(filter, 'primaryobjecttypecode'),
      });
    }
    return out;
  }

  async messageFilter(
    message: string,
    table: string,
  ): Promise<{ messageId: string; filterId: string } | undefined> {
    const messageId = await this.messageId(message);
    if (messageId === undefined) return undefined;
    const filters = await this.rows('sdkmessagefilters', {
      $select: 'sdkmessagefilterid',
      $filter: and(eq('_sdkmessageid_value', asGuid(messageId)), eq('primaryobjecttypecode', table)),
    });
    const filter = filters[0];
    return filter === undefined ? undefined : { messageId, filterId: text(filter, 'sdkmessagefilterid') };
  }

  async createStep(
    endpointId: string,
    step: { message: string; table: string; messageId: string; filterId: string },
  ): Promise<string> {
    const created = await this.client.create('sdkmessageprocessingsteps', {
      name: `dynamics-sync notify: ${step.message} of ${step.table}`,
      description: 'Starts a pull of the table; the data is read through change tracking',
      mode: ASYNC,
      stage: POST_OPERATION,
      rank: 1,
      supporteddeployment: SERVER_ONLY,
      asyncautodelete: true,
      'sdkmessageid@odata.bind': `/sdkmessages(${step.messageId})`,
      'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${step.filterId})`,
      'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${endpointId})`,
    });
    return created.id;
  }

  async deleteStep(id: string): Promise<void> {
    await this.client.delete('sdkmessageprocessingsteps', id);
  }

  private async messageId(name: string): Promise<string | undefined> {
    if (!this.messages.has(name)) {
      const rows = await this.rows('sdkmessages', { $select: 'sdkmessageid', $filter: eq('name', name) });
      this.messages.set(name, rows[0] === undefined ? undefined : text(rows[0], 'sdkmessageid'));
    }
    return this.messages.get(name);
  }

  private async rows(
    entitySet: string,
    query: Parameters<DataverseClient['getAll']>[1],
  ): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for await (const row of this.client.getAll(entitySet, query)) out.push(row);
    return out;
  }
}
