/**
 * Stand-in for the `@azure/functions-core` module that the Azure Functions Node.js worker injects
 * into the app at run time. `@azure/functions` registers every function through it, so providing
 * it lets the local host load the real registrations (bindings, options, handlers) unchanged.
 * Only the members the library calls exist here.
 */

export interface RpcBindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  dataType?: string | null;
  [key: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: {
    maxRetryCount?: number;
    retryStrategy?: string | number;
    delayInterval?: { seconds?: number; nanos?: number };
    minimumInterval?: { seconds?: number; nanos?: number };
    maximumInterval?: { seconds?: number; nanos?: number };
  } | null;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface Registration {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

export type CoreLog = (level: string, category: string, message: string) => void;

/** A hook as `@azure/functions` registers it: it takes the worker's core context object. */
export type CoreHook = (coreContext: Record<string, unknown>) => unknown;

export type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';

interface CoreState {
  registrations: Map<string, Registration>;
  programmingModel: unknown;
  systemLog: CoreLog;
  hooks: Map<HookName, CoreHook[]>;
}

const STATE_KEY = Symbol.for('dynamics-marketing-sync.functions-core');

/** Shared through globalThis so the host sees what the library registered even across module caches. */
export function coreState(): CoreState {
  const holder = globalThis as unknown as Record<symbol, CoreState | undefined>;
  let state = holder[STATE_KEY];
  if (state === undefined) {
    state = {
      registrations: new Map(),
      programmingModel: undefined,
      systemLog: () => undefined,
      hooks: new Map(),
    };
    holder[STATE_KEY] = state;
  }
  return state;
}

export class Disposable {
  constructor(private readonly onDispose: () => void) {}
  dispose(): void {
    this.onDispose();
  }
}

export const version = '3.10.1';

export function registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
  const state = coreState();
  if (state.registrations.has(metadata.name)) {
    throw new Error(`A function named "${metadata.name}" is already registered`);
  }
  state.registrations.set(metadata.name, { metadata, callback });
  return new Disposable(() => state.registrations.delete(metadata.name));
}

export function setProgrammingModel(model: unknown): void {
  coreState().programmingModel = model;
}

export function getProgrammingModel(): unknown {
  return coreState().programmingModel;
}

/** Registers a hook the host runs as the Node.js worker does (see FunctionHost.invoke). */
export function registerHook(name: HookName, callback: CoreHook): Disposable {
  const hooks = coreState().hooks;
  hooks.set(name, [...(hooks.get(name) ?? []), callback]);
  return new Disposable(() =>
    hooks.set(
      name,
      (hooks.get(name) ?? []).filter((hook) => hook !== callback),
    ),
  );
}

/** The hooks registered under a name, in registration order. */
export function hooksOf(name: HookName): readonly CoreHook[] {
  return coreState().hooks.get(name) ?? [];
}

export function log(level: string, category: string, message: string): void {
  coreState().systemLog(level, category, message);
}
