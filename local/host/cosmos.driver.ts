import type { Container, CosmosClient } from '@azure/cosmos';
import { z } from 'zod';
import { TsChangePoller } from '../../shared/cosmos/ts-change.poller';
import { resolveSetting } from './binding-settings';
import { FunctionHost } from './function-host';

export interface CosmosHostOptions {
  pollIntervalMs: number;
  /** The trigger's default batch size. */
  maxItemsPerInvocation: number;
}

interface PollerState {
  name: string;
  poller: TsChangePoller;
  /** Where the poller's position is kept between runs of the host, as the trigger keeps its leases. */
  lease: { container: Container; id: string } | undefined;
  maxItems: number;
  maxRetries: number;
  retryDelayMs: number;
}

const leaseSchema = z.object({ cursor: z.object({ ts: z.number(), seen: z.array(z.string()) }) });

/**
 * Feeds Cosmos DB-triggered functions from a `_ts` poller (the stand-in has no change feed). Like
 * the real trigger, a failed invocation is retried only under the function's retry policy; without
 * one the lease moves on, which is why the push use case must record its own failures. Like the
 * real trigger too, the position is kept in the lease container after each delivery, so a host that
 * is killed and started again goes on from there: `startFromBeginning` only applies without a lease.
 */
export class CosmosDriver {
  private readonly states: PollerState[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly host: FunctionHost,
    private readonly clientFor: (connectionSetting: string) => CosmosClient,
    private readonly env: Record<string, string | undefined>,
    private readonly options: CosmosHostOptions,
    private readonly onError: (name: string, error: unknown) => void,
  ) {}

  async start(): Promise<void> {
    for (const { metadata } of this.host.registrations) {
      const { binding } = FunctionHost.trigger(metadata);
      if (binding.type !== 'cosmosDBTrigger') continue;
      const database = resolveSetting(binding.databaseName, this.env, `databaseName of ${metadata.name}`);
      const containerName = resolveSetting(
        binding.containerName,
        this.env,
        `containerName of ${metadata.name}`,
      );
      const container = this.clientFor(String(binding.connection))
        .database(database)
        .container(containerName);
      const retry = metadata.retryOptions;
      const lease =
        typeof binding.leaseContainerName === 'string'
          ? {
              container: this.clientFor(String(binding.connection))
                .database(database)
                .container(
                  resolveSetting(binding.leaseContainerName, this.env, `lease container of ${metadata.name}`),
                ),
              id: `ts-poller.${metadata.name}`,
            }
          : undefined;
      const saved =
        lease === undefined
          ? undefined
          : leaseSchema.safeParse((await lease.container.item(lease.id, lease.id).read()).resource).data;
      this.states.push({
        name: metadata.name,
        lease,
        poller:
          saved !== undefined
            ? new TsChangePoller(container, saved.cursor)
            : binding.startFromBeginning === true
              ? TsChangePoller.fromBeginning(container)
              : TsChangePoller.startingNow(container),
        maxItems:
          typeof binding.maxItemsPerInvocation === 'number'
            ? binding.maxItemsPerInvocation
            : this.options.maxItemsPerInvocation,
        maxRetries: retry?.maxRetryCount ?? 0,
        retryDelayMs: (retry?.delayInterval?.seconds ?? retry?.minimumInterval?.seconds ?? 1) * 1000,
      });
    }
    if (this.states.length > 0) this.schedule(0);
  }

  /** One polling round over every Cosmos-triggered function; returns the documents delivered. */
  async pollOnce(): Promise<number> {
    let delivered = 0;
    for (const state of this.states) {
      const docs = await state.poller.peek(state.maxItems);
      if (docs.length === 0) continue;
      for (let attempt = 0; ; attempt++) {
        try {
          await this.host.invoke(state.name, { json: JSON.stringify(docs) });
          break;
        } catch (error) {
          this.onError(state.name, error);
          // maxRetryCount -1 means retry forever, as in the host's retry policy.
          if (this.stopped || (state.maxRetries !== -1 && attempt >= state.maxRetries)) break;
          await new Promise((resolve) => setTimeout(resolve, state.retryDelayMs));
        }
      }
      state.poller.advance(docs);
      if (state.lease !== undefined) {
        await state.lease.container.items.upsert({ id: state.lease.id, cursor: state.poller.position });
      }
      delivered += docs.length;
    }
    return delivered;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pollOnce()
        .then((count) => this.schedule(count > 0 ? 0 : this.options.pollIntervalMs))
        .catch((error: unknown) => {
          this.onError('(cosmos poller)', error);
          this.schedule(this.options.pollIntervalMs);
        });
    }, delayMs);
  }
}
