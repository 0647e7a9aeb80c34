import { app } from '@azure/functions';
import { FunctionHost } from '../../local/host/function-host';
import { HttpDriver } from '../../local/host/http.driver';
import { useStarted } from './lifecycle.helpers';

/** The local host's HTTP side, with two functions of its own: one that answers and one that throws. */
describe('local host HTTP driver: bad requests and failing handlers', () => {
  const failures: string[] = [];
  const server = useStarted(async () => {
    app.http('echo', {
      methods: ['POST'],
      route: 'echo/{entity}',
      authLevel: 'anonymous',
      handler: async (request) => ({ status: 200, jsonBody: { entity: request.params.entity } }),
    });
    app.http('broken', {
      methods: ['GET'],
      route: 'broken',
      authLevel: 'anonymous',
      handler: async () => {
        throw new Error('secret detail that must not reach the client');
      },
    });
    const driver = new HttpDriver(new FunctionHost(() => undefined), (name) => failures.push(name));
    const port = await driver.start(0);
    return { url: `http://127.0.0.1:${port}/api`, close: () => driver.stop() };
  });

  const call = async (path: string, method = 'POST') => {
    const response = await fetch(`${server().url}${path}`, { method });
    return { status: response.status, headers: response.headers, body: (await response.json()) as unknown };
  };

  it('answers a malformed percent-encoding with 400 and a JSON error, and keeps serving', async () => {
    expect(await call('/echo/%')).toEqual({
      status: 400,
      headers: expect.anything(),
      body: { error: { code: 'invalid_url', message: expect.stringMatching(/malformed percent-encoding/) } },
    });
    expect((await call('/echo/%E0%A4%A')).status).toBe(400);
    // The stack is still up and decodes valid encodings.
    expect(await call('/echo/lead%20one')).toMatchObject({ status: 200, body: { entity: 'lead one' } });
  });

  it('answers a handler failure with a JSON 500 that carries no error text, and reports it', async () => {
    const answer = await call('/broken', 'GET');
    expect(answer.status).toBe(500);
    expect(answer.body).toEqual({ error: { code: 'internal_error', message: expect.any(String) } });
    expect(JSON.stringify(answer.body)).not.toMatch(/secret detail/);
    expect(failures).toContain('broken');
  });

  it('answers unknown routes with 404 and wrong methods with 405, both in JSON, 405 with Allow', async () => {
    expect(await call('/nothing-here')).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    const wrong = await call('/echo/lead', 'GET');
    expect(wrong).toMatchObject({ status: 405, body: { error: { code: 'method_not_allowed' } } });
    expect(wrong.headers.get('allow')).toBe('POST');
  });
});
