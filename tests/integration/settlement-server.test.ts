import * as grpc from '@grpc/grpc-js';
import { types } from 'rhea';
import {
  acquireSettlementServer,
  loadSettlementProto,
  type SettlementTarget,
} from '../../local/host/settlement.server';

type Callback = (error: grpc.ServiceError | null) => void;
type Unary = (request: Record<string, unknown>, callback: Callback) => void;
interface SettlementClient extends grpc.Client {
  complete: Unary;
  abandon: Unary;
  deadletter: Unary;
  defer: Unary;
  renewMessageLock: Unary;
  releaseSession: Unary;
}

/** A client built the way the extension builds its own, from the proto it ships. */
function client(port: number): SettlementClient {
  const Settlement = loadSettlementProto();
  return new Settlement(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as SettlementClient;
}

const call = (method: Unary, request: Record<string, unknown>) =>
  new Promise<grpc.ServiceError | null>((resolve) => method(request, (error) => resolve(error)));

function recordingTarget(calls: string[]): SettlementTarget {
  return {
    complete: async () => void calls.push('complete'),
    abandon: async (properties) => void calls.push(`abandon ${JSON.stringify(properties ?? null)}`),
    deadLetter: async (options) => void calls.push(`deadLetter ${JSON.stringify(options)}`),
    defer: async () => void calls.push('defer'),
    renewLock: async () => {
      throw Object.assign(new Error('the lock of a session message is renewed with its session'), {
        code: 'InvalidOperation',
      });
    },
  };
}

describe('the local Settlement gRPC server', () => {
  it('settles tracked lock tokens, answers NOT_FOUND for others, and is one server per process', async () => {
    const first = await acquireSettlementServer();
    const second = await acquireSettlementServer();
    const settlement = client(first.port);
    try {
      // Loopback only, and the address the worker arguments point the extension at.
      expect(second.port).toBe(first.port);
      const at = process.argv.indexOf('--port');
      expect(process.argv[at + 1]).toBe(String(first.port));
      expect(process.argv[process.argv.indexOf('--host') + 1]).toBe('127.0.0.1');

      const calls: string[] = [];
      const token = '0f8fad5b-d9cb-469f-a165-70867728950e';
      const untrack = first.track(token.toUpperCase(), recordingTarget(calls));
      const otherCalls: string[] = [];
      second.track('7c9e6679-7425-40de-944b-e07fc1f90ae7', recordingTarget(otherCalls));

      expect(await call(settlement.complete.bind(settlement), { locktoken: token })).toBeNull();
      expect(
        await call(settlement.deadletter.bind(settlement), {
          locktoken: token,
          deadletterReason: { value: 'InvalidPullJob' },
          deadletterErrorDescription: { value: 'entity: must be a Dataverse logical name' },
        }),
      ).toBeNull();
      expect(await call(settlement.abandon.bind(settlement), { locktoken: token })).toBeNull();
      // propertiesToModify travels as an AMQP-encoded map, as the .NET worker sends it.
      const { Writer } = types as unknown as {
        Writer: new () => { write(v: unknown): void; toBuffer(): Buffer };
      };
      const writer = new Writer();
      writer.write(types.wrap_map({ retriedBy: 'operator', attempt: 2 }));
      expect(
        await call(settlement.abandon.bind(settlement), {
          locktoken: token,
          propertiesToModify: writer.toBuffer(),
        }),
      ).toBeNull();
      expect(calls).toEqual([
        'complete',
        'deadLetter {"reason":"InvalidPullJob","description":"entity: must be a Dataverse logical name"}',
        'abandon null',
        'abandon {"retriedBy":"operator","attempt":2}',
      ]);
      const failed = await call(settlement.renewMessageLock.bind(settlement), { locktoken: token });
      expect(failed?.code).toBe(grpc.status.INTERNAL);
      expect(failed?.details).toMatch(/InvalidOperation: the lock of a session message/);

      untrack();
      const unknown = await call(settlement.complete.bind(settlement), { locktoken: token });
      expect(unknown?.code).toBe(grpc.status.NOT_FOUND);
      expect(unknown?.details).toMatch(/no in-flight message with lock token "0f8fad5b-/);
      const session = await call(settlement.releaseSession.bind(settlement), { sessionId: 'contact' });
      expect(session?.code).toBe(grpc.status.UNIMPLEMENTED);
      // The other lease's message is untouched by all of this.
      expect(otherCalls).toEqual([]);
    } finally {
      settlement.close();
      await first.release();
      await second.release();
    }
  });

  it('stops with the last lease and comes back on the same port, where the extension still points', async () => {
    const before = await acquireSettlementServer();
    const port = before.port;
    await before.release();
    const after = await acquireSettlementServer();
    try {
      expect(after.port).toBe(port);
      const settlement = client(after.port);
      const calls: string[] = [];
      after.track('6ba7b810-9dad-11d1-80b4-00c04fd430c8', recordingTarget(calls));
      expect(
        await call(settlement.complete.bind(settlement), {
          locktoken: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
        }),
      ).toBeNull();
      expect(calls).toEqual(['complete']);
      settlement.close();
    } finally {
      await after.release();
    }
  });
});
