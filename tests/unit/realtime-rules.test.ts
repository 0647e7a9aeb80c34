import { acceptedSecrets, matchesSecret } from '../../shared/app/notify.route';
import {
  decideNotification,
  executionContextSchema,
  notifyJobSlots,
  windowEnd,
  type ExecutionContext,
} from '../../shared/domain/notification.model';
import { headerAuthValue, planSteps } from '../../shared/domain/webhook-registration.rules';

const ORG = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const APP = '11111111-2222-4333-8444-555555555555';
const HUMAN = '99999999-2222-4333-8444-555555555555';
const scope = { organizationId: ORG, entities: ['lead', 'contact'], applicationUserId: APP };
const context = (overrides: Partial<ExecutionContext> = {}): ExecutionContext =>
  executionContextSchema.parse({
    MessageName: 'Update',
    PrimaryEntityName: 'contact',
    PrimaryEntityId: '5b2d9a0e-0c1f-4c57-9d3a-000000000001',
    OrganizationId: ORG.toUpperCase(),
    InitiatingUserId: HUMAN,
    Depth: 1,
    ...overrides,
  });

describe('decideNotification', () => {
  it.each([
    ['a human edit of a synced table', {}, { kind: 'pull', entity: 'contact' }],
    ['our own direct write', { InitiatingUserId: APP }, { kind: 'ignore', reason: 'own_change' }],
    [
      "a plug-in's follow-up to our write",
      { InitiatingUserId: APP, Depth: 2 },
      { kind: 'pull', entity: 'contact' },
    ],
    ['another organisation', { OrganizationId: HUMAN }, { kind: 'refuse', code: 'wrong_organization' }],
    ['a table not synced', { PrimaryEntityName: 'task' }, { kind: 'refuse', code: 'table_not_synced' }],
  ])('%s', (_name, overrides, expected) => {
    expect(decideNotification(context(overrides as Partial<ExecutionContext>), scope)).toMatchObject(
      expected,
    );
  });

  it('keeps unknown properties and refuses what decides nothing without', () => {
    expect(context({ Extra: 1 } as Partial<ExecutionContext>)).toMatchObject({ Extra: 1 });
    for (const broken of [{ PrimaryEntityId: 'x' }, { Depth: 0 }, { PrimaryEntityName: 'Contact;' }])
      expect(() => context(broken as Partial<ExecutionContext>)).toThrow();
  });
});

describe('windowEnd', () => {
  it.each([
    ['2026-01-01T00:00:00.100Z', 2000, '2026-01-01T00:00:02.000Z'],
    ['2026-01-01T00:00:01.999Z', 2000, '2026-01-01T00:00:02.000Z'],
    ['2026-01-01T00:00:02.000Z', 2000, '2026-01-01T00:00:02.000Z'],
    ['2026-01-01T00:00:02.001Z', 2000, '2026-01-01T00:00:04.000Z'],
    ['2026-01-01T00:00:02.001Z', 0, '2026-01-01T00:00:02.001Z'],
  ])('%s in windows of %i ms ends at %s', (at, windowMs, end) => {
    expect(windowEnd(new Date(at), windowMs).toISOString()).toBe(end);
  });
});

describe('notifyJobSlots', () => {
  const iso = (d: Date | undefined) => d?.toISOString();
  it.each([
    [
      'inside a window: an opening job now and a closing one at its end',
      '2026-01-01T00:00:00.100Z',
      2000,
      [
        [1, '2026-01-01T00:00:02.000Z', undefined],
        [0, '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:02.000Z'],
      ],
    ],
    [
      'on a window boundary: one job now',
      '2026-01-01T00:00:02.000Z',
      2000,
      [[0, '2026-01-01T00:00:02.000Z', undefined]],
    ],
    ['no window: one job now', '2026-01-01T00:00:02.001Z', 0, [[0, '2026-01-01T00:00:02.001Z', undefined]]],
  ])('%s', (_name, at, windowMs, expected) => {
    expect(
      notifyJobSlots(new Date(at), windowMs).map((j) => [j.sequence, iso(j.slot), iso(j.scheduledAt)]),
    ).toEqual(expected);
  });
});

describe('planSteps', () => {
  const step = (id: string, message: string, table: string) => ({ id, message, table });
  it.each([
    ['nothing registered', [], 2, 0, 0],
    ['all registered', [step('1', 'Create', 'lead'), step('2', 'Update', 'lead')], 0, 0, 2],
    ['one of a table no longer synced', [step('1', 'Create', 'lead'), step('9', 'Create', 'task')], 1, 1, 1],
    [
      'a duplicate',
      [step('1', 'Create', 'lead'), step('2', 'Create', 'lead'), step('3', 'Update', 'lead')],
      0,
      1,
      2,
    ],
  ])('%s', (_name, existing, create, remove, keep) => {
    const plan = planSteps(
      [
        { message: 'Create', table: 'lead' },
        { message: 'Update', table: 'lead' },
      ],
      existing,
    );
    expect([plan.create.length, plan.remove.length, plan.keep.length]).toEqual([create, remove, keep]);
  });
});

describe('secrets', () => {
  it.each([
    [['current'], 'current', true],
    [['current', 'previous'], 'previous', true],
    [['current'], 'curren', false],
    [['current'], 'current ', false],
    [[], '', false],
  ])('accepted %j, presented %j: %s', (accepted, presented, ok) => {
    expect(matchesSecret(presented, accepted)).toBe(ok);
  });

  it('accepts neither an empty setting nor a Key Vault reference App Service could not resolve', () => {
    expect(
      acceptedSecrets(
        's1',
        '',
        undefined,
        '@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/x)',
      ),
    ).toEqual(['s1']);
  });

  it('escapes the secret in the endpoint settings XML', () => {
    expect(headerAuthValue('a"<&>')).toBe(
      '<settings><setting name="x-notify-key" value="a&quot;&lt;&amp;&gt;" /></settings>',
    );
  });
});
