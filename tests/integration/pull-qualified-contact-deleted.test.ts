import { CONTAINERS } from '../../shared/config/entity.catalog';
import { CheckpointRepository } from '../../shared/cosmos/checkpoint.repository';
import { provisionCosmos } from '../../shared/cosmos/cosmos.provisioning';
import { RecordRepository } from '../../shared/cosmos/record.repository';
import { SyncErrorRepository } from '../../shared/cosmos/sync-error.repository';
import type { PersonRecord } from '../../shared/domain/record.model';
import { PullUseCase } from '../../shared/sync/pull.use-case';
import { IGNORE_PROGRESS } from '../../shared/sync/ports';
import { quietLog, usePullStack } from './pull-stack.fixture';

/**
 * A qualified lead whose contact is then deleted in Dynamics: the incremental path (the contact's
 * tombstone reaches a person that followed the contact) and a fresh load of the same data (which only
 * ever sees the qualified lead) must leave the same person.
 */
describe('pull: a qualified lead whose contact was deleted in Dynamics', () => {
  const stack = usePullStack({ records: 20, seed: 33 });

  it('gives one answer whichever path the data took: a live person following the qualified lead', async () => {
    for (const entity of ['lead', 'contact']) expect((await stack().pull(entity)).outcome).toBe('done');
    const lead = stack().sim.control.createRow('lead', {
      firstname: 'Dorothy',
      lastname: 'Vaughan',
      companyname: 'Langley',
      jobtitle: 'Mathematician',
    });
    const leadId = String(lead.leadid);
    await stack().pull('lead');
    const contactId = stack()
      .sim.control.qualify(leadId, { createContact: true, createAccount: false, createOpportunity: false })
      .find((c) => c.table === 'contact')?.id as string;
    // The contact is edited after qualification, so the lead and the contact no longer agree.
    stack().sim.control.updateRow('contact', contactId, { jobtitle: 'Programmer' });
    await stack().pull('lead');
    await stack().pull('contact');
    const people = stack().container('people');
    const qualified = (await people.item(leadId, leadId).read<PersonRecord>()).resource as PersonRecord;
    expect(qualified).toMatchObject({ type: 'contact', jobTitle: 'Programmer' });

    // Incremental: the contact's tombstone arrives through the delta feed.
    stack().sim.control.deleteRow('contact', contactId);
    await stack().pull('contact');
    const incremental = (await people.item(leadId, leadId).read<PersonRecord>()).resource as PersonRecord;

    // Fresh load: the same Dynamics data into an empty database.
    await provisionCosmos(stack().client, 'fresh', 'create');
    const fresh = stack().client.database('fresh');
    const checkpoints = new CheckpointRepository(fresh.container(CONTAINERS.syncState.id));
    const errors = new SyncErrorRepository(fresh.container(CONTAINERS.syncErrors.id));
    const records = new RecordRepository(fresh.container(CONTAINERS.people.id), {
      kind: 'person',
      mode: 'parallel',
    });
    for (const entity of ['lead', 'contact']) {
      const result = await new PullUseCase(stack().profile(entity), {
        source: stack().dataverse.reader,
        records,
        checkpoints,
        errors,
        log: quietLog,
        observer: IGNORE_PROGRESS,
        timeBudgetMs: 60_000,
      }).run();
      expect(result.outcome).toBe('done');
    }
    const loaded = (await fresh.container(CONTAINERS.people.id).item(leadId, leadId).read<PersonRecord>())
      .resource as PersonRecord;

    const answer = (p: PersonRecord) => ({
      type: p.type,
      deleted: p.sync.deletedInDynamics !== undefined,
      firstName: p.firstName,
      lastName: p.lastName,
      jobTitle: p.jobTitle,
      company: p.company,
      status: p.status,
      agreed: p.sync.agreed,
      leadVersion: p.dynamics.lead?.versionnumber,
    });
    expect(answer(incremental)).toEqual(answer(loaded));
    expect(answer(loaded)).toMatchObject({ type: 'lead', deleted: false, jobTitle: 'Mathematician' });
    // The contact the person once followed stays recorded as deleted, nothing is removed.
    expect(incremental.dynamics.contactId).toBe(contactId);
    expect(incremental.dynamics.contact?.deletedAt).toEqual(expect.any(String));
  });
});
