import { startCosmosStandIn, type CosmosStandIn } from '../../local/cosmos/cosmos.server';
import { provisionCosmos } from '../../shared/cosmos/cosmos.provisioning';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import { CosmosStoreError } from '../../shared/cosmos/cosmos.errors';
import { cosmosClientFor } from './cosmos.fixture';

describe('Cosmos provisioning against the stand-in', () => {
  let cosmos: CosmosStandIn;
  beforeAll(async () => {
    cosmos = await startCosmosStandIn();
  });
  afterAll(async () => {
    await cosmos.close();
  });

  const client = () => cosmosClientFor(cosmos, 'marketing');

  it('verify fails on an empty account and names every missing container', async () => {
    const error = await provisionCosmos(client(), 'verify-first', 'verify').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CosmosStoreError);
    expect((error as CosmosStoreError).code).toBe('missing_container');
    for (const { id } of Object.values(CONTAINERS)) expect((error as Error).message).toContain(id);
  });

  it('create makes every container once, then verify passes and a second create reports them present', async () => {
    const first = await provisionCosmos(client(), 'marketing', 'create');
    expect(first.containers.map((c) => c.state)).toEqual(Object.values(CONTAINERS).map(() => 'created'));
    const second = await provisionCosmos(client(), 'marketing', 'create');
    expect(second.containers.every((c) => c.state === 'present')).toBe(true);
    const verified = await provisionCosmos(client(), 'marketing', 'verify');
    expect(verified.containers).toHaveLength(Object.keys(CONTAINERS).length);

    // Per-item TTL is on where run history lives, off elsewhere.
    const { resource: syncState } = await client()
      .database('marketing')
      .container(CONTAINERS.syncState.id)
      .read();
    expect(syncState?.defaultTtl).toBe(-1);
    const { resource: errors } = await client()
      .database('marketing')
      .container(CONTAINERS.syncErrors.id)
      .read();
    expect(errors?.defaultTtl).toBeUndefined();

    const people = client().database('marketing').container(CONTAINERS.people.id);
    await people.items.upsert({ id: 'p1', firstName: 'Ada' });
    const { resource } = await people.item('p1', 'p1').read<{ firstName: string }>();
    expect(resource?.firstName).toBe('Ada');
  });

  it('verify reports a container created with the wrong partition key', async () => {
    const db = (await client().databases.createIfNotExists({ id: 'drifted' })).database;
    await provisionCosmos(client(), 'drifted', 'create');
    await db.container(CONTAINERS.syncErrors.id).delete();
    await db.containers.create({ id: CONTAINERS.syncErrors.id, partitionKey: { paths: ['/id'] } });
    await expect(provisionCosmos(client(), 'drifted', 'verify')).rejects.toThrow(
      /sync-errors \(wrong-partition-key/,
    );
  });
});
