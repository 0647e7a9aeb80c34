import { parseSyncConfig } from '../../shared/config/sync-config.schema';
import type { PersonTable } from '../../shared/domain/person.values';
import type { PersonRecord } from '../../shared/domain/record.model';
import { DataversePersonRowGateway } from '../../shared/dataverse/person-row.gateway';
import { CreatePersonUseCase } from '../../shared/sync/push-create.use-case';
import { quietLog } from './pull-stack.fixture';
import { pushable, usePushStack } from './push-stack.fixture';

type Row = Record<string, unknown>;

/** Lead sources 1-3 have marketing texts; the others do not (a transform that fails). */
const config = parseSyncConfig({
  fields: {
    contact: [{ marketing: 'email', dynamics: 'emailaddress1', transform: ['trim', 'lowercase'] }],
    lead: [
      {
        marketing: 'leadSource',
        dynamics: 'leadsourcecode',
        transform: [
          { choiceText: { '1': 'Advertisement', '2': 'Employee Referral', '3': 'External Referral' } },
        ],
      },
    ],
  },
  constants: { lead: [{ dynamics: 'industrycode', value: 7, on: 'write' }] },
});
/** A constant and a field may not feed one column (the config refuses it), so creates get their own. */
const createConfig = parseSyncConfig({
  constants: {
    lead: [
      { dynamics: 'leadsourcecode', value: 8, on: 'create' },
      { dynamics: 'industrycode', value: 7, on: 'write' },
    ],
  },
});

describe('field transforms and constants (SYNC_CONFIG)', () => {
  const stack = usePushStack({ records: 40, seed: 71 });
  const profiles = (c = config): Record<PersonTable, ReturnType<ReturnType<typeof stack>['profile']>> => ({
    lead: stack().profile('lead', c),
    contact: stack().profile('contact', c),
  });
  const push = async () => {
    stack().sim.control.resetCounters();
    const summary = await stack()
      .useCase({ profiles: profiles() })
      .pushDocuments(await stack().people(), {});
    return { summary, writes: stack().sim.control.counters().total.writes };
  };
  const person = async (id: string) => (await stack().person(id)) as PersonRecord & Row;

  beforeAll(async () => {
    for (const entity of ['lead', 'contact']) await stack().pull(entity, { config });
  });

  it('a value Dynamics stores as "  Foo@X.com " settles after one push, with no echo', async () => {
    const target = pushable(await stack().people(), 'contact')[0] as PersonRecord;
    const contactId = target.dynamics.contactId as string;
    stack().sim.control.updateRow('contact', contactId, { emailaddress1: '  Foo@X.com ' });
    await stack().pull('contact', { config });
    let stored = await person(target.id);
    expect(stored.email).toBe('foo@x.com');
    expect(stored.sync.agreed.email).toBe('foo@x.com');
    // Nothing to send: Dynamics' value is the marketing one once transformed.
    expect((await push()).writes).toBe(0);
    expect((await stack().pull('contact', { config })).stats.written).toBe(0);

    // A marketing edit differing only by spaces and case is no edit either.
    await stack().edit(target.id, { email: ' FOO@x.COM' });
    expect((await push()).writes).toBe(0);

    // A real edit goes once, transformed; the pull of it and the next push write nothing more.
    await stack().edit(target.id, { email: '  Bar@Y.COM ' });
    expect((await push()).writes).toBe(1);
    expect(stack().sim.control.getRow('contact', contactId)?.emailaddress1).toBe('bar@y.com');
    await stack().pull('contact', { config });
    stored = await person(target.id);
    // The marketing copy keeps what was typed; what was agreed (and is compared) is the transformed value.
    expect(stored.email).toBe('  Bar@Y.COM ');
    expect(stored.sync.agreed.email).toBe('bar@y.com');
    expect((await push()).writes).toBe(0);
    expect((await stack().pull('contact', { config })).stats.written).toBe(0);
  });

  it('maps choice values to marketing text; a value without text is held and reported, naming the field', async () => {
    const leads = pushable(await stack().people(), 'lead');
    const mapped = leads.find((p) =>
      [1, 2, 3].includes(
        Number((stack().sim.control.getRow('lead', p.dynamics.leadId as string) as Row).leadsourcecode),
      ),
    );
    const unmapped = leads.find((p) => p !== mapped);
    if (mapped === undefined || unmapped === undefined) throw new Error('the seed has no suitable leads');
    expect(['Advertisement', 'Employee Referral', 'External Referral']).toContain(
      (await person(mapped.id)).leadSource,
    );

    const unmappedId = unmapped.dynamics.leadId as string;
    await stack().edit(unmapped.id, { leadSource: 'Advertisement' });
    await stack().sim.control.updateRow('lead', unmappedId, { leadsourcecode: 9 });
    await stack().pull('lead', { config });
    const held = await person(unmapped.id);
    expect(held.leadSource).toBe('Advertisement');
    const error = (await stack().errors.list('lead')).find(
      (e) => e.recordId === unmappedId && e.code === 'transform_failed',
    );
    expect(error?.message).toMatch(
      /field "leadSource": Dynamics value 9 has no entry in its choiceText table/,
    );

    // Pushed back as the value its text names, with the write constant.
    const mappedId = mapped.dynamics.leadId as string;
    await stack().edit(mapped.id, { leadSource: 'External Referral' });
    expect((await push()).writes).toBeGreaterThanOrEqual(1);
    expect(stack().sim.control.getRow('lead', mappedId)).toMatchObject({
      leadsourcecode: 3,
      industrycode: 7,
    });
    // A text the table does not have is refused, naming the field, and not sent.
    await stack().edit(mapped.id, { leadSource: 'Carrier pigeon' });
    await push();
    expect(stack().sim.control.getRow('lead', mappedId)?.leadsourcecode).toBe(3);
    const refused = (await stack().errors.list('lead')).concat(await stack().errors.list('person'));
    expect(refused.some((e) => e.code === 'invalid_value' && e.message.includes('leadSource'))).toBe(true);
  });

  it('writes create constants on create', async () => {
    await stack().addPerson('const-1', { firstName: 'Con', lastName: 'Stant', email: 'con@example.com' });
    const result = await new CreatePersonUseCase({
      rows: new DataversePersonRowGateway(stack().dataverse.client),
      people: stack().records('people'),
      profiles: profiles(createConfig),
      errors: stack().errors,
      log: quietLog,
    }).run({ personId: 'const-1' });
    expect(result).toMatchObject({ status: 'created' });
    expect(stack().sim.control.getRow('lead', (result as { rowId: string }).rowId)).toMatchObject({
      leadsourcecode: 8,
      industrycode: 7,
    });
  });
});
