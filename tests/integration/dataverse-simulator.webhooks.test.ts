// Webhooks through the simulator's Web API: registration rows (service endpoint, steps bound to a
// message and a table filter looked up by name), the execution context posted after the delay,
// the authentication kinds, retries while the receiver fails, filtering attributes, and lost
// notifications when delivery is switched off.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { useSimulatorWithApi, type ApiCaller } from './dataverse-simulator.helpers';
import { useStarted } from './lifecycle.helpers';
import { waitFor } from './polling.helpers';

interface Received {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** A webhook receiver on 127.0.0.1 that answers `failFirst` posts with 503, then 204. */
async function startReceiver() {
  const received: Received[] = [];
  let failures = 0;
  const state = { failFirst: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failures < state.failFirst) {
        failures += 1;
        res.writeHead(503).end();
        return;
      }
      received.push({
        url: req.url ?? '',
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/notify`;
  return {
    url,
    received,
    state,
    reset: () => {
      received.length = 0;
      failures = 0;
      state.failFirst = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function idOf(api: ApiCaller, path: string): Promise<string> {
  const answer = await api.get(path);
  expect(answer.status).toBe(200);
  const first = (answer.json.value as Record<string, string>[])[0];
  if (first === undefined) throw new Error(`nothing at ${path}`);
  return Object.entries(first).find(([k]) => k.endsWith('id') && !k.startsWith('@'))?.[1] as string;
}

async function register(
  api: ApiCaller,
  endpoint: Record<string, unknown>,
  steps: { message: string; table: string; filteringattributes?: string }[],
): Promise<string> {
  const created = await api.post('serviceendpoints', { name: 'notify', contract: 8, ...endpoint });
  expect(created.status).toBe(204);
  const endpointId = /\(([^)]+)\)/.exec(created.headers.get('OData-EntityId') ?? '')?.[1] as string;
  for (const step of steps) {
    const messageId = await idOf(api, `sdkmessages?$select=sdkmessageid&$filter=name eq '${step.message}'`);
    const filterId = await idOf(
      api,
      `sdkmessagefilters?$select=sdkmessagefilterid&$filter=_sdkmessageid_value eq ${messageId} and primaryobjecttypecode eq '${step.table}'`,
    );
    const answer = await api.post('sdkmessageprocessingsteps', {
      name: `notify: ${step.message} of ${step.table}`,
      mode: 1,
      stage: 40,
      rank: 1,
      supporteddeployment: 0,
      asyncautodelete: true,
      ...(step.filteringattributes !== undefined ? { filteringattributes: step.filteringattributes } : {}),
      'sdkmessageid@odata.bind': `/sdkmessages(${messageId})`,
      'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${filterId})`,
      'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${endpointId})`,
    });
    expect(answer.status).toBe(204);
  }
  return endpointId;
}

describe('dataverse simulator: webhooks', () => {
  const ORG = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
  const { sim, api } = useSimulatorWithApi({
    records: 50,
    seed: 3,
    organizationId: ORG,
    webhooks: { delayMs: 50, retryDelaysMs: [50, 50], timeoutMs: 2000 },
  });
  const receiver = useStarted(startReceiver);
  let endpointId = '';

  beforeAll(async () => {
    endpointId = await register(
      api(),
      {
        url: receiver().url,
        authtype: 5,
        authvalue: '<settings><setting name="x-notify-key" value="s3cret" /></settings>',
      },
      [
        { message: 'Create', table: 'contact' },
        { message: 'Update', table: 'contact', filteringattributes: 'firstname,lastname,parentcustomerid' },
        { message: 'Delete', table: 'contact' },
        { message: 'Assign', table: 'contact' },
        { message: 'Merge', table: 'contact' },
        { message: 'QualifyLead', table: 'lead' },
      ],
    );
  });
  beforeEach(() => receiver().reset());

  it('seeds messages and per-table filters, found by name', async () => {
    const messages = await api().get(`sdkmessages?$select=name&$filter=name eq 'QualifyLead'`);
    expect(messages.json.value).toHaveLength(1);
    const id = messages.json.value[0].sdkmessageid as string;
    const filters = await api().get(
      `sdkmessagefilters?$select=primaryobjecttypecode&$filter=_sdkmessageid_value eq ${id}`,
    );
    expect(filters.json.value.map((f: { primaryobjecttypecode: string }) => f.primaryobjecttypecode)).toEqual(
      ['lead'],
    );
    expect((await api().post('sdkmessages', { name: 'Mine' })).status).toBe(400);
  });

  it('posts the execution context of an update after the delay, with the header the endpoint holds', async () => {
    const contact = sim().control.listRows('contact', { limit: 1 })[0] as { contactid: string };
    const before = Date.now();
    sim().control.updateRow('contact', contact.contactid, { firstname: 'Webhooked' });
    const [hit] = await waitFor(
      async () => (receiver().received.length > 0 ? receiver().received : undefined),
      'a post',
    );
    expect(Date.now() - before).toBeGreaterThanOrEqual(40);
    expect(hit?.headers['x-notify-key']).toBe('s3cret');
    expect(hit?.headers['x-ms-dynamics-request-name']).toBe('Update');
    expect(hit?.headers['x-ms-dynamics-entity-name']).toBe('contact');
    expect(hit?.body).toMatchObject({
      MessageName: 'Update',
      PrimaryEntityName: 'contact',
      PrimaryEntityId: contact.contactid,
      OrganizationId: ORG,
      InitiatingUserId: sim().control.defaultUserId(),
      Depth: 1,
      Mode: 1,
      Stage: 40,
      OperationCreatedOn: expect.stringMatching(/^\/Date\(\d+\)\/$/),
      OwningExtension: { LogicalName: 'sdkmessageprocessingstep', Id: expect.stringMatching(GUID) },
      InputParameters: [
        {
          key: 'Target',
          value: expect.objectContaining({
            LogicalName: 'contact',
            Attributes: expect.arrayContaining([{ key: 'firstname', value: 'Webhooked' }]),
          }),
        },
      ],
    });
  });

  it('names the application user that made an API change as the initiating user', async () => {
    const created = await api().post('contacts', { firstname: 'Api', lastname: 'Made' });
    expect(created.status).toBe(204);
    const [hit] = await waitFor(
      async () => (receiver().received.length > 0 ? receiver().received : undefined),
      'a post',
    );
    expect(hit?.body).toMatchObject({ MessageName: 'Create', InitiatingUserId: sim().control.appUserId() });
  });

  it('fires nothing for an update outside the filtering attributes, or on a table without a step', async () => {
    const contact = sim().control.listRows('contact', { limit: 1, offset: 1 })[0] as { contactid: string };
    sim().control.updateRow('contact', contact.contactid, { jobtitle: 'Not watched' });
    const account = sim().control.listRows('account', { limit: 1 })[0] as { accountid: string };
    sim().control.updateRow('account', account.accountid, { name: 'Not registered' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver().received).toEqual([]);
  });

  it('tells deletes, assignments, merges and qualifications by their message names', async () => {
    const [a, b, c] = sim().control.listRows('contact', { limit: 3, offset: 5 }) as { contactid: string }[];
    const user = sim()
      .control.listRows('systemuser', { limit: 50 })
      .find(
        (u) =>
          u.isdisabled === false &&
          u.applicationid === null &&
          u.systemuserid !== (a as Record<string, unknown> | undefined)?._ownerid_value,
      ) as { systemuserid: string };
    sim().control.updateRow('contact', a?.contactid as string, {
      'ownerid@odata.bind': `/systemusers(${user.systemuserid})`,
    });
    sim().control.merge('contact', b?.contactid as string, c?.contactid as string);
    sim().control.deleteRow('contact', a?.contactid as string);
    const lead = sim()
      .control.listRows('lead', { limit: 20 })
      .find((l) => l.statecode === 0) as { leadid: string };
    sim().control.qualify(lead.leadid, { createContact: true, createAccount: false });
    const seen = await waitFor(
      async () => {
        const names = receiver().received.map(
          (r) => `${String(r.body.MessageName)} ${String(r.body.PrimaryEntityName)}`,
        );
        return [
          'Assign contact',
          'Merge contact',
          'Delete contact',
          'QualifyLead lead',
          'Create contact',
        ].every((n) => names.includes(n))
          ? names
          : undefined;
      },
      'every message',
      3000,
    ).catch((e: unknown) => {
      throw new Error(
        `${String(e)}: ${JSON.stringify(receiver().received.map((r) => `${String(r.body.MessageName)} ${String(r.body.PrimaryEntityName)}`))}`,
      );
    });
    expect(seen).toEqual(expect.arrayContaining(['Assign contact', 'Merge contact', 'QualifyLead lead']));
  });

  it('retries a post the receiver refused, then counts it delivered', async () => {
    receiver().state.failFirst = 2;
    const contact = sim().control.listRows('contact', { limit: 1, offset: 10 })[0] as { contactid: string };
    sim().control.updateRow('contact', contact.contactid, { lastname: 'Retried' });
    await waitFor(async () => (receiver().received.length > 0 ? true : undefined), 'the third attempt');
    const report = await (await fetch(`${sim().url}/_sim/webhooks?limit=1`)).json();
    expect(report.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 3, lastStatus: 204 });
  });

  it('gives up after the last retry', async () => {
    receiver().state.failFirst = 10;
    const contact = sim().control.listRows('contact', { limit: 1, offset: 11 })[0] as { contactid: string };
    sim().control.updateRow('contact', contact.contactid, { lastname: 'Refused' });
    const last = await waitFor(async () => {
      const r = await (await fetch(`${sim().url}/_sim/webhooks?limit=1`)).json();
      return r.deliveries[0]?.status === 'failed' ? r.deliveries[0] : undefined;
    }, 'the delivery to fail');
    expect(last).toMatchObject({ attempts: 3, lastStatus: 503 });
  });

  it('loses notifications while delivery is off, and sends a code query key for WebhookKey', async () => {
    const off = await fetch(`${sim().url}/_sim/webhooks`, {
      method: 'POST',
      body: JSON.stringify({ enabled: false }),
    });
    expect((await off.json()).enabled).toBe(false);
    const contact = sim().control.listRows('contact', { limit: 1, offset: 12 })[0] as { contactid: string };
    sim().control.updateRow('contact', contact.contactid, { lastname: 'Lost' });
    await fetch(`${sim().url}/_sim/webhooks`, { method: 'POST', body: JSON.stringify({ enabled: true }) });
    expect((await (await fetch(`${sim().url}/_sim/webhooks`)).json()).dropped).toBeGreaterThanOrEqual(1);
    expect(
      (await api().patch(`serviceendpoints(${endpointId})`, { authtype: 4, authvalue: 'k3y' })).status,
    ).toBe(204);
    sim().control.updateRow('contact', contact.contactid, { lastname: 'Found' });
    const [hit] = await waitFor(
      async () => (receiver().received.length > 0 ? receiver().received : undefined),
      'a post',
    );
    expect(new URL(hit?.url ?? '', 'http://x').searchParams.get('code')).toBe('k3y');
    expect(receiver().received).toHaveLength(1);
  });

  it('refuses bad control settings', async () => {
    const bad = await fetch(`${sim().url}/_sim/webhooks`, {
      method: 'POST',
      body: JSON.stringify({ delayMs: -1 }),
    });
    expect(bad.status).toBe(400);
  });
});
