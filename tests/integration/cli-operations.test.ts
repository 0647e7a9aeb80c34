import { main, type CliIo } from '../../shared/cli/cli';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import { AuditRepository } from '../../shared/cosmos/audit.repository';
import { SyncErrorRepository } from '../../shared/cosmos/sync-error.repository';
import type { PersonRecord } from '../../shared/domain/record.model';
import { syncEveryEntity, useHostStack } from './host-stack.fixture';

type Row = Record<string, unknown>;

/** The operator commands against the local stack, as an operator runs them against Azure. */
describe('dynamics-sync operator commands: status, errors, retry, pause/resume/resync, validate, person', () => {
  const stack = useHostStack({ records: 30, env: { SYNC_ENTITIES: 'lead,contact,account' } });
  const run = async (args: string[], env: Record<string, string | undefined> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      env: { ...stack().env, ...env },
      out: (line) => out.push(line),
      err: (line) => err.push(line),
    };
    const code = await main(['node', 'dynamics-sync', ...args], io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const checks = async (env: Record<string, string | undefined> = {}) => {
    const result = await run(['validate', '--json'], env);
    const report = JSON.parse(result.out) as {
      ok: boolean;
      checks: { id: string; status: string; detail: string; fix?: string }[];
    };
    return { code: result.code, report, check: (id: string) => report.checks.find((c) => c.id === id) };
  };

  beforeAll(async () => {
    await syncEveryEntity(stack());
  });

  it('status prints a table and JSON, exit 0 when nothing fails', async () => {
    const table = await run(['status']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/│ contact\s+│ synced/);
    expect(table.out).toMatch(/push: 0 pending \(0 retrying\), 0 parked, 0 failed/);
  });

  it('errors searches and exports CSV; retry lists ids that name no error', async () => {
    const errors = new SyncErrorRepository(stack().database.container(CONTAINERS.syncErrors.id));
    await errors.record({
      entity: 'lead',
      recordId: 'p-cli',
      operation: 'push',
      code: 'validation',
      message: 'firstname too long',
      email: 'cli@example.com',
      at: new Date().toISOString(),
    });
    const found = await run(['errors', '--q', 'cli@example.com', '--json']);
    expect(JSON.parse(found.out).errors).toHaveLength(1);
    const csv = await run(['errors', '--entity', 'lead', '--csv']);
    expect(csv.out.split('\r\n')[0]).toBe(
      'at,entity,operation,direction,code,recordId,email,message,excerpt,resolvedAt,correlationId',
    );
    expect((await run(['errors', '--status', 'closed'])).code).toBe(2);
    const retried = await run(['retry', 'no-such-error']);
    expect(retried.code).toBe(1);
    expect(retried.err).toMatch(/no error with id no-such-error/);
    expect((await run(['retry'])).code).toBe(2);
  });

  it('pause, resume and resync act on the deployed queues and are audited', async () => {
    expect((await run(['pause', 'account'])).code).toBe(0);
    const paused = JSON.parse((await run(['status', '--json'])).out) as {
      entities: { entity: string; state: string }[];
    };
    expect(paused.entities.find((e) => e.entity === 'account')?.state).toBe('paused');
    expect((await run(['status'])).code).toBe(1);
    expect((await run(['resume', 'account'])).code).toBe(0);
    expect((await run(['resync', 'account'])).code).toBe(0);
    expect((await run(['pause', 'widget'])).code).toBe(2);
    const audit = await new AuditRepository(stack().database.container(CONTAINERS.syncState.id)).page(20);
    expect(audit.entries.map((e) => e.action)).toEqual(expect.arrayContaining(['pause', 'resume', 'resync']));
    expect(audit.entries.every((e) => e.who.startsWith('cli'))).toBe(true);
  });

  it('person show puts both sides next to each other; person task and owner act in Dynamics', async () => {
    const { resources } = await stack()
      .database.container(CONTAINERS.people.id)
      .items.query<PersonRecord>(
        "SELECT * FROM c WHERE c.type = 'contact' AND IS_DEFINED(c.dynamics.contact)",
      )
      .fetchAll();
    const person = resources.find((p) => typeof p.email === 'string') as PersonRecord;
    const shown = await run(['person', 'show', String(person.email)]);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(
      new RegExp(`person ${person.id} \\(contact\\): contact ${person.dynamics.contactId}`),
    );
    expect(shown.out).toMatch(/│ field\s+│ marketing\s+│ Dynamics\s+│ agreed/);
    const task = await run([
      'person',
      'task',
      person.id,
      '--subject',
      'Follow up from the CLI',
      '--due',
      '2027-01-15',
    ]);
    expect(task.code).toBe(0);
    const taskId = /task (\S+) created/.exec(task.out)?.[1] ?? '';
    expect(stack().dataverse.control.getRow('task', taskId)).toMatchObject({
      subject: 'Follow up from the CLI',
    });
    const user = (stack().dataverse.control.listRows('systemuser') as Row[]).find(
      (u) => u.isdisabled === false,
    ) as Row;
    expect((await run(['person', 'owner', person.id, String(user.systemuserid)])).code).toBe(0);
    expect(
      stack().dataverse.control.getRow('contact', String(person.dynamics.contactId))?._ownerid_value,
    ).toBe(user.systemuserid);
    expect((await run(['person', 'show', 'nobody@example.com'])).code).toBe(1);
    expect((await run(['person', 'task', person.id, '--subject', 'x', '--due', 'tomorrow'])).code).toBe(2);
  });

  it('validate passes on a healthy stack, and names what is wrong and the fix otherwise', async () => {
    const healthy = await checks();
    expect(healthy.report.checks.map((c) => c.id)).toEqual([
      'dataverse-url',
      'token',
      'whoami',
      'privileges',
      'table:lead',
      'table:contact',
      'table:account',
      'cosmos',
      'servicebus',
    ]);
    expect(healthy.report.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(healthy.code).toBe(0);
    expect(healthy.check('servicebus')).toMatchObject({
      status: 'warn',
      detail: expect.stringMatching(/sends and receives/),
    });
    // Tables the sync filter does not apply to (lists, their members) pass without a filter column.
    const relations = await checks({ SYNC_ENTITIES: 'lead,contact,account,list,listmember' });
    for (const id of ['table:list', 'table:listmember']) {
      expect(relations.check(id)).toMatchObject({ status: 'pass' });
    }

    const wrongSecret = await checks({ DATAVERSE_CLIENT_SECRET: 'not-the-secret' });
    expect(wrongSecret.code).toBe(1);
    expect(wrongSecret.check('dataverse-url')?.status).toBe('pass');
    expect(wrongSecret.check('token')).toMatchObject({
      status: 'fail',
      fix: expect.stringMatching(/DATAVERSE_CLIENT_ID|secret/),
    });
    expect(JSON.stringify(wrongSecret.report)).not.toMatch(/not-the-secret/);

    const nowhere = await checks({
      DATAVERSE_URL: 'http://127.0.0.1:9',
      DATAVERSE_TOKEN_ENDPOINT: undefined,
    });
    expect(nowhere.check('dataverse-url')).toMatchObject({
      status: 'fail',
      fix: expect.stringMatching(/DATAVERSE_URL/),
    });

    stack().dataverse.control.setChangeTracking('contact', false);
    stack().dataverse.control.denyPrivilege('account', 'read');
    try {
      const broken = await checks();
      expect(broken.check('table:contact')).toMatchObject({
        status: 'fail',
        detail: expect.stringMatching(/change tracking is off/),
      });
      expect(broken.check('privileges')).toMatchObject({
        status: 'fail',
        detail: expect.stringMatching(/prvReadAccount/),
      });
    } finally {
      stack().dataverse.control.setChangeTracking('contact', true);
      stack().dataverse.control.clearPrivileges();
    }

    const unprovisioned = await checks({ COSMOS_DATABASE: 'never-made' });
    expect(unprovisioned.code).toBe(1);
    expect(unprovisioned.check('cosmos')).toMatchObject({
      status: 'fail',
      fix: expect.stringMatching(/dynamics-sync provision/),
    });
  });
});
