import { CONTAINERS } from '../../shared/config/entity.catalog';
import type { SyncErrorRecord } from '../../shared/domain/sync-error.model';
import { sendToQueue, useHostStack } from './host-stack.fixture';
import { waitFor } from './polling.helpers';

/**
 * What error records keep of the data that caused them: the key and the failing fields, never the
 * rest of a person (name, email, phone) and never a credential, whether it sits under a secret-like
 * key or looks like one. Checked in the stored documents themselves, on the whole local stack.
 */
describe('error records hold no personal data and no credentials', () => {
  const stack = useHostStack({
    records: 10,
    env: { SYNC_ENTITIES: 'lead,contact,account', SYNC_SCHEDULE: '0 0 0 1 1 *' },
    host: { cosmosPollIntervalMs: 200 },
  });
  const errorsContainer = () => stack().database.container(CONTAINERS.syncErrors.id);
  const errorById = async (id: string): Promise<SyncErrorRecord | undefined> =>
    (
      await errorsContainer()
        .items.query<SyncErrorRecord>({
          query: 'SELECT * FROM c WHERE c.id = @id',
          parameters: [{ name: '@id', value: id }],
        })
        .fetchAll()
    ).resources[0];

  it('a push error of a person keeps the id and the failing fields, not the email, phone or a bearer token', async () => {
    const private_ = {
      firstName: 'Ada',
      lastName: 'Lovelace-Private',
      email: 'ada.private@example.com',
      phone: '+44 20 7946 0001',
    };
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcml2YXRlIn0.c2lnbmF0dXJl';
    await stack()
      .database.container(CONTAINERS.people.id)
      .items.create({
        id: 'person-private-1',
        entity: 'person',
        type: 'lead',
        ...private_,
        // The failing fields: a value no column takes (holding a pasted header) and a broken Dynamics part.
        jobTitle: { pasted: `Authorization: Bearer ${token}` },
        dynamics: { leadId: '00000000-0000-0000-0000-0000000000aa', etag: 'W/"1"', modifiedon: null },
      });
    const error = await waitFor(
      () => errorById('push:person:person-private-1:invalid_document'),
      'the push error of the invalid person',
      20_000,
      100,
    );
    const stored = JSON.stringify(error);
    for (const value of [...Object.values(private_), token, 'eyJhbGci']) expect(stored).not.toContain(value);
    expect(error.recordId).toBe('person-private-1');
    expect(error.excerpt).toContain('"id":"person-private-1"');
    expect(error.excerpt).toContain('jobTitle');
    expect(error.excerpt).toContain('dynamics.versionnumber');
    expect(error.message).toMatch(/jobTitle/);
  });

  it('a malformed pull job with credentials in its body is dead-lettered and recorded without them', async () => {
    const secrets = { clientSecret: 'cs-Very-Secret-1', password: 'pw-Very-Secret-2' };
    await sendToQueue(stack(), 'pull-jobs', [
      {
        body: { kind: 'pull', entity: 'account', reason: 'manual', ...secrets },
        contentType: 'application/json',
        sessionId: 'account',
        messageId: 'job-with-secrets',
      },
    ]);
    const dead = await waitFor(
      async () =>
        stack()
          .broker.deadLetters('pull-jobs')
          .find((d) => d.messageId === 'job-with-secrets'),
      'the dead-lettered job',
    );
    const error = await waitFor(
      () => errorById('queue:account:job-with-secrets:invalid_message'),
      'the sync error of the malformed job',
    );
    const texts = [dead.description ?? '', JSON.stringify(error), ...stack().logs.map((l) => l.message)];
    for (const text of texts) {
      for (const secret of Object.values(secrets)) expect(text).not.toContain(secret);
    }
    // Still says what was wrong, and with which fields.
    expect(dead.reason).toBe('InvalidPullJob');
    expect(error.message).toMatch(/clientSecret/);
    expect(error.excerpt).toContain('clientSecret');
    expect(error.excerpt).toContain('password');
    expect(error.excerpt).not.toContain('"kind"');
  });
});
