import {
  privilegesCheck,
  type PrivilegeDepth,
  type TableMetadata,
} from '../../shared/sync/validate.use-case';

const table = (schemaName: string): TableMetadata => ({
  schemaName,
  changeTracking: true,
  attributes: new Map(),
});
const entities = ['lead', 'contact'];
const tables = new Map([
  ['lead', table('Lead')],
  ['contact', table('Contact')],
]);
const ALL = [
  'prvReadLead',
  'prvReadContact',
  'prvWriteLead',
  'prvWriteContact',
  'prvCreateLead',
  'prvCreateContact',
  'prvCreateActivity',
];
const held = (depth: PrivilegeDepth, except: Record<string, PrivilegeDepth | 'none'> = {}) =>
  new Map(
    ALL.flatMap((name): [string, PrivilegeDepth][] => {
      const d = except[name] ?? depth;
      return d === 'none' ? [] : [[name, d]];
    }),
  );

describe('Validate Sync: the privileges of the application user', () => {
  it.each([
    ['every privilege at organisation level', held('Global'), 'pass', /all at organisation level/],
    [
      'no read of contacts',
      held('Global', { prvReadContact: 'none' }),
      'fail',
      /read contact \(prvReadContact\)/,
    ],
    [
      'no task creation',
      held('Global', { prvCreateActivity: 'none' }),
      'fail',
      /create tasks .*prvCreateActivity/,
    ],
    [
      'contacts read in its business unit only',
      held('Global', { prvReadContact: 'Local' }),
      'warn',
      /read contact \(prvReadContact: Local\)/,
    ],
    ['only its own leads written', held('Global', { prvWriteLead: 'Basic' }), 'warn', /prvWriteLead: Basic/],
    ['missing beats narrow', held('Local', { prvReadLead: 'none' }), 'fail', /prvReadLead/],
  ] as const)('%s: %s', (_name, privileges, status, detail) => {
    const check = privilegesCheck(entities, tables, privileges);
    expect(check.status).toBe(status);
    expect(check.detail).toMatch(detail);
    if (status !== 'pass') expect(check.fix).toMatch(/security role of the application user/);
  });

  it('a table Dynamics does not have is left to its own check', () => {
    const check = privilegesCheck(
      entities,
      new Map([['lead', table('Lead')]]),
      held('Global', { prvReadContact: 'none' }),
    );
    expect(check.status).toBe('pass');
  });
});
