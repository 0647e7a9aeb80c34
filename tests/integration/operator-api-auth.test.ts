import { useHostStack } from './host-stack.fixture';

/** What App Service authentication passes on: the signed-in caller's claims, base64 JSON. */
const principal = (name: string, roles: string[]) =>
  Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      name_typ: 'name',
      role_typ: 'roles',
      claims: [{ typ: 'name', val: name }, ...roles.map((val) => ({ typ: 'roles', val }))],
    }),
  ).toString('base64');

describe('operator HTTP API behind App Service authentication: app roles', () => {
  const stack = useHostStack({
    records: 10,
    env: { SYNC_ENTITIES: 'account', API_AUTHORIZATION: 'app-roles', NOTIFY_SECRET: 'webhook-secret' },
  });
  const call = async (method: 'GET' | 'POST', path: string, caller?: string) => {
    const response = await fetch(`http://127.0.0.1:${stack().host?.httpPort}/api/${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(caller !== undefined ? { 'x-ms-client-principal': caller } : {}),
      },
      ...(method === 'POST' ? { body: JSON.stringify({ mode: 'now' }) } : {}),
    });
    return {
      status: response.status,
      body: (await response.json()) as { error?: { code: string; message: string } },
    };
  };

  it('answers 401 without a signed-in caller, whatever the route', async () => {
    for (const [method, path] of [
      ['GET', 'status'],
      ['GET', 'errors'],
      ['POST', 'sync/account'],
    ] as const) {
      expect(await call(method, path)).toMatchObject({
        status: 401,
        body: { error: { code: 'unauthenticated' } },
      });
    }
    expect((await call('GET', 'status', 'not base64 json')).status).toBe(401);
  });

  it("lets Dataverse's webhook in by its secret alone: no app role, and an app role is no secret", async () => {
    const notify = async (headers: Record<string, string>) =>
      (
        await fetch(`http://127.0.0.1:${stack().host?.httpPort}/api/notify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({
            MessageName: 'Update',
            PrimaryEntityName: 'account',
            PrimaryEntityId: '5b2d9a0e-0c1f-4c57-9d3a-000000000001',
            OrganizationId: stack().dataverse.control.organizationId(),
            InitiatingUserId: stack().dataverse.control.defaultUserId(),
            Depth: 1,
          }),
        })
      ).status;
    expect(await notify({ 'x-notify-key': 'webhook-secret' })).toBe(202);
    expect(await notify({ 'x-ms-client-principal': principal('operator', ['Sync.Operate']) })).toBe(401);
  });

  it('lets Sync.Read read and refuses it anything that changes something', async () => {
    const reader = principal('reader@contoso.com', ['Sync.Read']);
    expect((await call('GET', 'status', reader)).status).toBe(200);
    expect((await call('GET', 'audit', reader)).status).toBe(200);
    const refused = await call('POST', 'sync/account', reader);
    expect(refused).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect(refused.body.error?.message).toMatch(/Sync\.Operate/);
    expect((await call('GET', 'status', principal('nobody@contoso.com', []))).status).toBe(403);
  });

  it('lets Sync.Operate act, and the audit trail names who did it', async () => {
    const operator = principal('ops@contoso.com', ['Sync.Operate']);
    expect((await call('POST', 'sync/account', operator)).status).toBe(202);
    const response = await fetch(`http://127.0.0.1:${stack().host?.httpPort}/api/audit`, {
      headers: { 'x-ms-client-principal': operator },
    });
    const { entries } = (await response.json()) as {
      entries: { who: string; action: string; outcome: string }[];
    };
    expect(entries).toEqual([
      expect.objectContaining({ who: 'ops@contoso.com', action: 'POST /api/sync/account', outcome: '202' }),
    ]);
  });
});
