import { app, type InvocationContext } from '@azure/functions';
import { logOf, telemetry } from '../../functions/app.services';
import { FunctionHost } from '../../local/host/function-host';

/** A timer trigger's input as the host sends it. */
const tick = { json: JSON.stringify({ isPastDue: false }) };

describe('invocation hooks on the local host, as the Node.js worker runs them', () => {
  const calls: string[] = [];
  const host = new FunctionHost(() => undefined);
  let seen: InvocationContext | undefined;

  beforeAll(() => {
    // The app's own hooks are registered by functions/app.services (imported above); these record order.
    app.hook.preInvocation((hook) => {
      calls.push(`pre ${hook.invocationContext.functionName}`);
    });
    app.hook.postInvocation((hook) => {
      calls.push(`post ${hook.error === undefined ? 'ok' : 'error'}`);
      // A post-invocation hook may settle the outcome: this one swallows the expected failure.
      if (hook.invocationContext.functionName === 'hooked-recovered') hook.error = undefined;
    });
    const handler = (fail: boolean) => async (_timer: unknown, context: InvocationContext) => {
      seen = context;
      calls.push('handler');
      logOf(context).info('inside the handler');
      if (fail) throw new Error('the handler failed');
    };
    app.timer('hooked-ok', { schedule: '0 0 0 * * *', handler: handler(false) });
    app.timer('hooked-failing', { schedule: '0 0 0 * * *', handler: handler(true) });
    app.timer('hooked-recovered', { schedule: '0 0 0 * * *', handler: handler(true) });
  });

  beforeEach(() => {
    calls.length = 0;
    seen = undefined;
  });

  it('runs pre-invocation hooks before the handler and post-invocation hooks after it', async () => {
    const flush = jest.spyOn(telemetry, 'flush');
    await host.invoke('hooked-ok', tick);
    expect(calls).toEqual(['pre hooked-ok', 'handler', 'post ok']);
    // The app's post-invocation hook flushed telemetry once; the pre hook made the handler's logger.
    expect(flush).toHaveBeenCalledTimes(1);
    expect(logOf(seen as InvocationContext)).toBe(logOf(seen as InvocationContext));
    flush.mockRestore();
  });

  it('flushes telemetry after a failed invocation too, and the failure reaches the host', async () => {
    const flush = jest.spyOn(telemetry, 'flush');
    await expect(host.invoke('hooked-failing', tick)).rejects.toThrow('the handler failed');
    expect(calls).toEqual(['pre hooked-failing', 'handler', 'post error']);
    expect(flush).toHaveBeenCalledTimes(1);
    expect(host.stats.get('hooked-failing')).toEqual({ succeeded: 0, failed: 1 });
    flush.mockRestore();
  });

  it('lets a post-invocation hook replace the error, as the worker does', async () => {
    await expect(host.invoke('hooked-recovered', tick)).resolves.toMatchObject({ returnValue: undefined });
    expect(host.stats.get('hooked-recovered')).toEqual({ succeeded: 1, failed: 0 });
  });
});
