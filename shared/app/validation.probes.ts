import { ServiceBusAdministrationClient } from '@azure/service-bus';
import { z } from 'zod';
import { CosmosStoreError } from '../cosmos/cosmos.errors';
import { provisionCosmos } from '../cosmos/cosmos.provisioning';
import { DataverseError } from '../dataverse/dataverse.errors';
import { describeError } from '../errors/app.errors';
import { createServiceBusClient } from '../queue/servicebus.job-queue';
import type { PrivilegeDepth, TableMetadata, ValidationProbes } from '../sync/validate.use-case';
import type { AppServices } from './app.services';

const NO_ANSWER_MS = 10_000;

const DEPTHS = ['Basic', 'Local', 'Deep', 'Global'] as const;
const privilegesSchema = z.object({
  RolePrivileges: z.array(z.object({ PrivilegeName: z.string(), Depth: z.enum(DEPTHS) })),
});
const tableSchema = z.object({
  SchemaName: z.string(),
  ChangeTrackingEnabled: z.boolean().nullable().optional(),
});
const attributesSchema = z.object({
  value: z.array(z.object({ LogicalName: z.string(), AttributeType: z.string() })),
});

/**
 * Validate Sync's probes over the app's own adapters: the Dataverse connection (client, token
 * provider, governor), the Cosmos client and a Service Bus client made for the check and closed.
 */
export function validationProbes(services: AppServices, dataverseUrl: string): ValidationProbes {
  const dataverse = () => services.dataverse();
  return {
    urlAnswers: async () => {
      try {
        await fetch(new URL('/api/data/v9.2/', dataverseUrl), {
          redirect: 'manual',
          signal: AbortSignal.timeout(NO_ANSWER_MS),
        });
      } catch (error) {
        throw new DataverseError(`no answer from ${new URL(dataverseUrl).origin}: ${describeError(error)}`, {
          code: 'network',
          retryable: true,
          cause: error,
        });
      }
    },
    token: async () => {
      await dataverse().tokenProvider.getToken({ forceRefresh: true });
    },
    whoAmI: async () => {
      const me = await dataverse().client.whoAmI();
      const user = await dataverse()
        .client.get<{ fullname?: string }>(`systemusers(${me.UserId})`, { $select: 'fullname' })
        .catch(() => undefined);
      return { userId: me.UserId, name: user?.fullname ?? null };
    },
    privileges: async (userId) => {
      const body = await dataverse().client.get<unknown>(
        `systemusers(${userId})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`,
      );
      // Several roles may grant one privilege: the widest depth counts.
      const held = new Map<string, PrivilegeDepth>();
      for (const { PrivilegeName, Depth } of privilegesSchema.parse(body).RolePrivileges) {
        const known = held.get(PrivilegeName);
        if (known === undefined || DEPTHS.indexOf(Depth) > DEPTHS.indexOf(known))
          held.set(PrivilegeName, Depth);
      }
      return held;
    },
    table: async (logicalName): Promise<TableMetadata | undefined> => {
      const path = `EntityDefinitions(LogicalName='${logicalName}')`;
      try {
        const table = tableSchema.parse(
          await dataverse().client.get<unknown>(path, {
            $select: 'LogicalName,SchemaName,ChangeTrackingEnabled',
          }),
        );
        const attributes = attributesSchema.parse(
          await dataverse().client.get<unknown>(`${path}/Attributes`, {
            $select: 'LogicalName,AttributeType',
          }),
        );
        return {
          schemaName: table.SchemaName,
          changeTracking: table.ChangeTrackingEnabled === true,
          attributes: new Map(attributes.value.map((a) => [a.LogicalName, a.AttributeType])),
        };
      } catch (error) {
        if (error instanceof DataverseError && error.code === 'not_found') return undefined;
        throw error;
      }
    },
    cosmos: async () => {
      try {
        await provisionCosmos(services.cosmos, services.env.COSMOS_DATABASE, 'verify');
        return [];
      } catch (error) {
        if (error instanceof CosmosStoreError && error.code === 'missing_container') return [error.message];
        throw error;
      }
    },
    serviceBus: async () => {
      if (
        services.env.SERVICEBUS === undefined &&
        services.env.SERVICEBUS__fullyQualifiedNamespace === undefined
      ) {
        return 'not-configured';
      }
      const client = createServiceBusClient(services.env);
      const admin = administrationOf(services.env.SERVICEBUS);
      try {
        const queues = [
          { name: services.env.PULL_JOBS_QUEUE, sessions: true },
          { name: services.env.PUSH_RETRY_QUEUE, sessions: false },
        ];
        return await Promise.all(
          queues.map(async (queue) => ({
            queue: queue.name,
            send: await canSend(client, queue.name, queue.sessions),
            receive: queue.sessions ? null : await canPeek(client, queue.name),
            settings: await readSettings(admin, queue.name),
          })),
        );
      } finally {
        await client.close();
      }
    },
  };
}

type BusClient = ReturnType<typeof createServiceBusClient>;

/** Schedules a message a year out and cancels it at once: proves the Send right, leaves nothing behind. */
async function canSend(client: BusClient, queue: string, sessions: boolean): Promise<boolean> {
  const sender = client.createSender(queue);
  try {
    const [sequence] = await sender.scheduleMessages(
      {
        body: { kind: 'validate' },
        messageId: `validate:${Date.now()}`,
        // A session queue takes only messages of a session; this one is never received anyway.
        ...(sessions ? { sessionId: 'validate' } : {}),
      },
      new Date(Date.now() + 365 * 86_400_000),
    );
    if (sequence !== undefined) await sender.cancelScheduledMessages(sequence);
    return true;
  } catch (error) {
    if (isUnauthorized(error)) return false;
    throw error;
  } finally {
    await sender.close();
  }
}

/** Peeks without taking anything: proves the Listen right. */
async function canPeek(client: BusClient, queue: string): Promise<boolean> {
  const receiver = client.createReceiver(queue);
  try {
    await receiver.peekMessages(1);
    return true;
  } catch (error) {
    if (isUnauthorized(error)) return false;
    throw error;
  } finally {
    await receiver.close();
  }
}

/**
 * The management client, or why there is none: in Azure the app connects with its identity, which has
 * no Manage right; a development emulator (the local broker) speaks AMQP only, and an HTTPS request to
 * its port would only wait for a timeout.
 */
function administrationOf(connectionString: string | undefined): ServiceBusAdministrationClient | string {
  if (connectionString === undefined) return 'the app connects with its identity, which has no Manage right';
  if (/;\s*UseDevelopmentEmulator\s*=\s*true/i.test(connectionString))
    return 'a development emulator has no management endpoint';
  return new ServiceBusAdministrationClient(connectionString);
}

/** Null when the queue's settings could be read; else why not. */
async function readSettings(
  admin: ServiceBusAdministrationClient | string,
  queue: string,
): Promise<string | null> {
  if (typeof admin === 'string') return admin;
  try {
    await admin.getQueue(queue, { abortSignal: AbortSignal.timeout(NO_ANSWER_MS / 2) });
    return null;
  } catch (error) {
    return describeError(error).slice(0, 200);
  }
}

const isUnauthorized = (error: unknown) =>
  /unauthori[sz]ed/i.test(String((error as { code?: unknown }).code ?? '')) ||
  /unauthori[sz]ed/i.test(describeError(error));
