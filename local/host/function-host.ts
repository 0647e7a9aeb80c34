import { randomUUID } from 'node:crypto';
import {
  coreState,
  hooksOf,
  type FunctionMetadata,
  type Registration,
  type RpcBindingInfo,
} from './functions-core.shim';

/** The subset of the RPC typed-data union the host passes to the worker. */
export type RpcTypedData =
  | { string: string }
  | { json: string }
  | { bytes: Uint8Array }
  | { int: number }
  | { http: RpcHttpData }
  | { modelBindingData: RpcModelBindingData };

/** SDK-type bindings: the extension registered for `source` turns `content` into the client. */
export interface RpcModelBindingData {
  version: string;
  source: string;
  contentType: string;
  /** A Buffer, as the worker's protobuf decoding gives it (the extension calls Buffer methods on it). */
  content: Buffer;
}

export interface RpcHttpData {
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
  body?: { bytes?: Uint8Array; string?: string } | null;
  statusCode?: string;
}

export interface HostLogEntry {
  functionName: string;
  invocationId: string;
  level: string;
  category: string;
  message: string;
}

export interface InvocationResult {
  invocationId: string;
  returnValue: unknown;
}

interface ProgrammingModel {
  getInvocationModel(coreCtx: unknown): {
    getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
    invokeFunction(context: unknown, inputs: unknown[], handler: unknown): Promise<unknown>;
    getResponse(
      context: unknown,
      result: unknown,
    ): Promise<{ returnValue?: unknown; outputData?: unknown[] }>;
  };
}

export function isTriggerBinding(binding: RpcBindingInfo): boolean {
  return typeof binding.type === 'string' && binding.type.toLowerCase().endsWith('trigger');
}

export interface InvocationStats {
  succeeded: number;
  failed: number;
}

/**
 * Invokes registered functions exactly as the Node.js worker does: it builds the core invocation
 * context from typed data and lets `@azure/functions`' own programming model create the
 * InvocationContext, convert inputs, run the handler and convert the result.
 */
export class FunctionHost {
  /** Invocations per function, for the local status display and tests. */
  readonly stats = new Map<string, InvocationStats>();

  constructor(private readonly log: (entry: HostLogEntry) => void) {
    coreState().systemLog = (level, category, message) =>
      log({ functionName: '(worker)', invocationId: '', level, category, message });
  }

  /** Loads function modules; each registers itself through `app.*` when required. */
  load(modules: readonly string[]): void {
    for (const modulePath of modules) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(modulePath);
    }
  }

  get registrations(): Registration[] {
    return [...coreState().registrations.values()];
  }

  registration(name: string): Registration {
    const found = coreState().registrations.get(name);
    if (found === undefined) {
      throw new Error(
        `no function named "${name}" is registered (have: ${[...coreState().registrations.keys()].join(', ')})`,
      );
    }
    return found;
  }

  static trigger(metadata: FunctionMetadata): { name: string; binding: RpcBindingInfo } {
    const entry = Object.entries(metadata.bindings).find(([, binding]) => isTriggerBinding(binding));
    if (entry === undefined) throw new Error(`function ${metadata.name} has no trigger binding`);
    return { name: entry[0], binding: entry[1] };
  }

  async invoke(
    name: string,
    trigger: RpcTypedData,
    triggerMetadata: Record<string, RpcTypedData> = {},
  ): Promise<InvocationResult> {
    const { metadata, callback } = this.registration(name);
    const model = coreState().programmingModel as ProgrammingModel | undefined;
    if (model === undefined) throw new Error('@azure/functions did not set its programming model');
    const invocationId = randomUUID();
    const coreCtx = {
      invocationId,
      metadata,
      state: undefined as string | undefined,
      request: {
        invocationId,
        functionId: metadata.name,
        inputData: [{ name: FunctionHost.trigger(metadata).name, data: trigger }],
        triggerMetadata,
      },
      log: (level: string, category: string, message: string) =>
        this.log({ functionName: name, invocationId, level, category, message }),
    };
    const stats = this.stats.get(name) ?? { succeeded: 0, failed: 0 };
    this.stats.set(name, stats);
    const invocation = model.getInvocationModel(coreCtx);
    const { context, inputs } = await invocation.getArguments();
    try {
      // As the Node.js worker does: pre-invocation hooks may replace the inputs and the handler;
      // post-invocation hooks see the result or the error, and may replace either.
      const hookData: Record<string, unknown> = {};
      const pre: Record<string, unknown> = {
        hookData,
        invocationContext: context,
        functionCallback: callback,
        inputs,
      };
      for (const hook of hooksOf('preInvocation')) await hook(pre);
      let result: unknown;
      let error: unknown;
      try {
        result = await invocation.invokeFunction(context, pre.inputs as unknown[], pre.functionCallback);
      } catch (thrown) {
        error = thrown;
      }
      const post: Record<string, unknown> = {
        hookData,
        invocationContext: context,
        inputs: pre.inputs,
        result,
        error,
      };
      for (const hook of hooksOf('postInvocation')) await hook(post);
      if (post.error !== undefined && post.error !== null) throw post.error;
      const response = await invocation.getResponse(context, post.result);
      stats.succeeded++;
      return { invocationId, returnValue: response.returnValue };
    } catch (error) {
      stats.failed++;
      throw error;
    }
  }
}
