import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { types } from 'rhea';

/**
 * The Functions host's Settlement gRPC service (the contract is the proto shipped in
 * `@azure/functions-extensions-servicebus`): a function bound with `sdkBinding: true` settles its
 * Service Bus message by calling it with the message's lock token, and the host settles through the
 * receiver that holds the message. Here the harness's Service Bus driver is that host.
 */

/** Settlement of one in-flight message, done by the real SDK receiver that received it. */
export interface SettlementTarget {
  complete(): Promise<void>;
  abandon(propertiesToModify?: Record<string, unknown>): Promise<void>;
  deadLetter(options: {
    reason?: string;
    description?: string;
    propertiesToModify?: Record<string, unknown>;
  }): Promise<void>;
  defer(propertiesToModify?: Record<string, unknown>): Promise<void>;
  renewLock(): Promise<void>;
}

/** One user's (one harness's) hold on the shared server. */
export interface SettlementLease {
  readonly port: number;
  /** Makes the message settleable by lock token until the returned function is called. */
  track(lockToken: string, target: SettlementTarget): () => void;
  /** The server stops when the last lease is released. */
  release(): Promise<void>;
}

/** What `--functions-grpc-max-message-length` says; the host passes int.MaxValue. */
const GRPC_MAX_MESSAGE_LENGTH = 2147483647;
const LOOPBACK = '127.0.0.1';

interface Running {
  server: grpc.Server;
  targets: Map<string, SettlementTarget>;
  leases: number;
}

interface ProcessState {
  /** Fixed once chosen: the extension's actions client connects to the port in process.argv. */
  port: number | undefined;
  running: Running | undefined;
  /** Start and stop run one after the other. */
  queue: Promise<unknown>;
}

/**
 * Why this is process-wide state: `@azure/functions-extensions-servicebus` creates one actions
 * client per process (a module singleton) from `--host`/`--port` in process.argv, as the real
 * worker is started with them. Every harness in a process (tests start several, one after the
 * other, in one jest worker) must therefore be served at that one address. The state lives on
 * globalThis because jest gives each test file a fresh module registry but the same process.argv.
 */
const STATE_KEY = Symbol.for('dynamics-marketing-sync.settlement-server');

function processState(): ProcessState {
  const holder = globalThis as unknown as Record<symbol, ProcessState | undefined>;
  let state = holder[STATE_KEY];
  if (state === undefined) {
    state = { port: undefined, running: undefined, queue: Promise.resolve() };
    holder[STATE_KEY] = state;
  }
  return state;
}

function serialized<T>(state: ProcessState, work: () => Promise<T>): Promise<T> {
  const next = state.queue.then(work, work);
  state.queue = next.catch(() => undefined);
  return next;
}

/** Takes a lease on the process's settlement server, starting it on 127.0.0.1 if needed. */
export function acquireSettlementServer(): Promise<SettlementLease> {
  const state = processState();
  return serialized(state, async () => {
    const running = state.running ?? (await start(state));
    state.running = running;
    running.leases += 1;
    let released = false;
    const lease: SettlementLease = {
      port: state.port as number,
      track: (lockToken, target) => {
        const key = normalize(lockToken);
        running.targets.set(key, target);
        return () => {
          if (running.targets.get(key) === target) running.targets.delete(key);
        };
      },
      release: () =>
        serialized(state, async () => {
          if (released) return;
          released = true;
          running.leases -= 1;
          if (running.leases > 0 || state.running !== running) return;
          state.running = undefined;
          await shutdown(running.server);
        }),
    };
    return lease;
  });
}

async function start(state: ProcessState): Promise<Running> {
  const targets = new Map<string, SettlementTarget>();
  const server = new grpc.Server();
  server.addService(settlementService(), implementation(targets));
  // The first start picks a free port; later ones (after every harness stopped) reuse it, since the
  // extension's client and process.argv already point there.
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${LOOPBACK}:${state.port ?? 0}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    ),
  ).catch((error: unknown) => {
    throw new Error(
      `the local Settlement gRPC server could not bind ${LOOPBACK}:${state.port ?? 0}: ${(error as Error).message}`,
    );
  });
  if (state.port === undefined) {
    claimWorkerArguments(port);
    state.port = port;
  }
  return { server, targets, leases: 0 };
}

/**
 * This is what the Functions host does when it starts the Node.js worker: it passes the address of
 * its gRPC endpoint (which also serves Settlement) and the message size limit as arguments. The
 * extension reads them, once, when it builds its actions client for the first SDK-bound message.
 */
function claimWorkerArguments(port: number): void {
  for (const flag of ['--host', '--port', '--functions-grpc-max-message-length']) {
    if (process.argv.some((arg) => arg === flag || arg.startsWith(`${flag}=`))) {
      throw new Error(
        `process.argv already has ${flag}: the Service Bus extension would settle through that address, not the local host's`,
      );
    }
  }
  // Right after the script, as the host passes them: the extension parses argv with minimist, which
  // takes everything after a `--` (as in `jest -- some.test.ts`) as positional, not as options.
  process.argv.splice(
    2,
    0,
    '--host',
    LOOPBACK,
    '--port',
    String(port),
    '--functions-grpc-max-message-length',
    String(GRPC_MAX_MESSAGE_LENGTH),
  );
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    // Calls still open after a moment are cut: nothing is in flight once every harness stopped.
    const force = setTimeout(() => server.forceShutdown(), 1000);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

const normalize = (lockToken: string) => lockToken.trim().toLowerCase();

function settlementService(): grpc.ServiceDefinition {
  return loadSettlementProto().service;
}

/** The Settlement service of the proto the extension ships (tests build their clients from it too). */
export function loadSettlementProto(): grpc.ServiceClientConstructor {
  const entry = require.resolve('@azure/functions-extensions-servicebus');
  const protoPath = path.join(path.dirname(entry), 'proto', 'settlement.proto');
  // The same options the extension's client loads the proto with, so both sides agree on field names.
  const definition = protoLoader.loadSync(protoPath, {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [path.dirname(protoPath)],
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    Settlement: grpc.ServiceClientConstructor;
  };
  return loaded.Settlement;
}

interface LockTokenRequest {
  locktoken?: string;
  propertiesToModify?: Buffer;
}

interface DeadletterRequest extends LockTokenRequest {
  /** google.protobuf.StringValue: `{ value }` on the wire, null when absent. */
  deadletterReason?: { value?: string } | string | null;
  deadletterErrorDescription?: { value?: string } | string | null;
}

type Empty = Record<string, never>;

function stringValue(field: DeadletterRequest['deadletterReason']): string | undefined {
  if (field === undefined || field === null) return undefined;
  return typeof field === 'string' ? field : field.value;
}

/** propertiesToModify is an AMQP-encoded map, as the .NET worker sends it; empty means none. */
function properties(bytes: Buffer | undefined): Record<string, unknown> | undefined {
  if (bytes === undefined || bytes.length === 0) return undefined;
  // rhea's Reader exists at run time but its typings only declare it inside the module.
  const { Reader } = types as unknown as { Reader: new (buffer: Buffer) => { read(): unknown } };
  const decoded = new Reader(bytes).read();
  return types.unwrap_map_simple(decoded) as Record<string, unknown>;
}

function implementation(targets: Map<string, SettlementTarget>): grpc.UntypedServiceImplementation {
  const settle =
    <R extends LockTokenRequest>(
      what: string,
      act: (target: SettlementTarget, request: R) => Promise<void>,
    ) =>
    (call: grpc.ServerUnaryCall<R, Empty>, callback: grpc.sendUnaryData<Empty>) => {
      const lockToken = call.request.locktoken ?? '';
      const target = targets.get(normalize(lockToken));
      if (target === undefined) {
        callback({
          code: grpc.status.NOT_FOUND,
          details: `${what}: no in-flight message with lock token "${lockToken}" (already settled, its invocation ended, or never delivered by this host)`,
        });
        return;
      }
      let work: Promise<void>;
      try {
        work = act(target, call.request);
      } catch (error) {
        work = Promise.reject(error);
      }
      work.then(
        () => callback(null, {}),
        (error: unknown) => {
          const code = (error as { code?: unknown })?.code;
          callback({
            code: grpc.status.INTERNAL,
            details: `${what} of ${lockToken} failed: ${typeof code === 'string' ? `${code}: ` : ''}${(error as Error)?.message ?? String(error)}`,
          });
        },
      );
    };
  const unimplemented =
    (what: string) =>
    (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      callback({
        code: grpc.status.UNIMPLEMENTED,
        details: `${what} is not implemented by the local host (the session is managed by the host's receiver)`,
      });
  return {
    Complete: settle('Complete', (target) => target.complete()),
    Abandon: settle('Abandon', (target, request) => target.abandon(properties(request.propertiesToModify))),
    Deadletter: settle<DeadletterRequest>('Deadletter', (target, request) => {
      const reason = stringValue(request.deadletterReason);
      const description = stringValue(request.deadletterErrorDescription);
      const propertiesToModify = properties(request.propertiesToModify);
      return target.deadLetter({
        ...(reason !== undefined ? { reason } : {}),
        ...(description !== undefined ? { description } : {}),
        ...(propertiesToModify !== undefined ? { propertiesToModify } : {}),
      });
    }),
    Defer: settle('Defer', (target, request) => target.defer(properties(request.propertiesToModify))),
    RenewMessageLock: settle('RenewMessageLock', (target) => target.renewLock()),
    GetSessionState: unimplemented('GetSessionState'),
    SetSessionState: unimplemented('SetSessionState'),
    ReleaseSession: unimplemented('ReleaseSession'),
    RenewSessionLock: unimplemented('RenewSessionLock'),
  };
}
