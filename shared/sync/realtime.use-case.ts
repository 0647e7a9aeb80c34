import {
  headerAuthValue,
  NOTIFY_ENDPOINT_NAME,
  NOTIFY_MESSAGES,
  planSteps,
  type StepKey,
} from '../domain/webhook-registration.rules';
import type { WebhookRegistry, WebhookStep } from './ports';

/** HttpHeader: the secret travels in a header, so it never appears in a URL or an access log. */
const AUTH_HTTP_HEADER = 5;

export interface RealtimeStatus {
  endpoint: { id: string; url: string } | undefined;
  registered: StepKey[];
  /** Wanted and not registered. */
  missing: StepKey[];
  /** Registered and not wanted, or registered twice. */
  extra: StepKey[];
  /** Pairs Dataverse has no message filter for (Merge of an opportunity): never registered. */
  unavailable: StepKey[];
}

export interface EnableResult {
  endpoint: 'created' | 'updated' | 'unchanged';
  created: StepKey[];
  removed: StepKey[];
  unchanged: number;
  unavailable: StepKey[];
}

const pair = (step: StepKey): StepKey => ({ message: step.message, table: step.table });

/**
 * `dynamics-sync realtime enable|disable|status`: one webhook endpoint and one asynchronous
 * post-operation step per message and synced table. Idempotent: enable registers what is missing and
 * removes what is no longer wanted, so a second run changes nothing; the secret is sent only when the
 * endpoint is created or when asked (rotation), because Dataverse does not read it back.
 */
export class RealtimeRegistration {
  constructor(
    private readonly registry: WebhookRegistry,
    private readonly entities: readonly string[],
  ) {}

  async status(): Promise<RealtimeStatus> {
    const { wanted, unavailable } = await this.wanted();
    const endpoint = await this.registry.findEndpoint(NOTIFY_ENDPOINT_NAME);
    const steps = endpoint === undefined ? [] : await this.registry.stepsOf(endpoint.id);
    const plan = planSteps(
      wanted.map((w) => pair(w)),
      steps,
    );
    return {
      endpoint: endpoint === undefined ? undefined : { id: endpoint.id, url: endpoint.url },
      registered: plan.keep.map(pair),
      missing: plan.create,
      extra: plan.remove.map(pair),
      unavailable,
    };
  }

  async enable(options: { url: string; secret: string; updateSecret: boolean }): Promise<EnableResult> {
    const { wanted, unavailable } = await this.wanted();
    let endpoint = await this.registry.findEndpoint(NOTIFY_ENDPOINT_NAME);
    let endpointOutcome: EnableResult['endpoint'] = 'unchanged';
    if (endpoint === undefined) {
      const id = await this.registry.createEndpoint({
        name: NOTIFY_ENDPOINT_NAME,
        url: options.url,
        authtype: AUTH_HTTP_HEADER,
        authvalue: headerAuthValue(options.secret),
      });
      endpoint = { id, url: options.url, authtype: AUTH_HTTP_HEADER };
      endpointOutcome = 'created';
    } else if (
      endpoint.url !== options.url ||
      endpoint.authtype !== AUTH_HTTP_HEADER ||
      options.updateSecret
    ) {
      await this.registry.updateEndpoint(endpoint.id, {
        url: options.url,
        authtype: AUTH_HTTP_HEADER,
        authvalue: headerAuthValue(options.secret),
      });
      endpointOutcome = 'updated';
    }
    const steps = endpointOutcome === 'created' ? [] : await this.registry.stepsOf(endpoint.id);
    const plan = planSteps<WebhookStep>(
      wanted.map((w) => pair(w)),
      steps,
    );
    const ids = new Map(wanted.map((w) => [`${w.message}\u0000${w.table}`, w]));
    for (const step of plan.create) {
      const found = ids.get(`${step.message}\u0000${step.table}`);
      if (found !== undefined) await this.registry.createStep(endpoint.id, found);
    }
    for (const step of plan.remove) await this.registry.deleteStep(step.id);
    return {
      endpoint: endpointOutcome,
      created: plan.create,
      removed: plan.remove.map(pair),
      unchanged: plan.keep.length,
      unavailable,
    };
  }

  /** Removes the steps, then the endpoint; nothing to remove is not an error. */
  async disable(): Promise<{ removedSteps: number; removedEndpoint: boolean }> {
    const endpoint = await this.registry.findEndpoint(NOTIFY_ENDPOINT_NAME);
    if (endpoint === undefined) return { removedSteps: 0, removedEndpoint: false };
    const steps = await this.registry.stepsOf(endpoint.id);
    // Steps first: Dataverse refuses to delete an endpoint that steps still use.
    for (const step of steps) await this.registry.deleteStep(step.id);
    await this.registry.deleteEndpoint(endpoint.id);
    return { removedSteps: steps.length, removedEndpoint: true };
  }

  private async wanted(): Promise<{
    wanted: (StepKey & { messageId: string; filterId: string })[];
    unavailable: StepKey[];
  }> {
    const wanted: (StepKey & { messageId: string; filterId: string })[] = [];
    const unavailable: StepKey[] = [];
    for (const table of this.entities) {
      for (const message of NOTIFY_MESSAGES) {
        const filter = await this.registry.messageFilter(message, table);
        if (filter === undefined) unavailable.push({ message, table });
        else wanted.push({ message, table, ...filter });
      }
    }
    return { wanted, unavailable };
  }
}
