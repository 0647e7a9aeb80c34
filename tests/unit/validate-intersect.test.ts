import { privilegesCheck, type TableMetadata } from '../../shared/sync/validate.use-case';

const table = (schemaName: string): TableMetadata => ({
  schemaName,
  changeTracking: true,
  attributes: new Map(),
});
const writes = ['prvWriteLead', 'prvWriteContact', 'prvCreateLead', 'prvCreateContact', 'prvCreateActivity'];

describe('Validate Sync: privileges of list members', () => {
  it.each<[string, string[], string]>([
    [
      'reading lists covers their members (an intersect table has no privileges of its own)',
      ['prvReadList'],
      'pass',
    ],
    ['without reading lists, list members cannot be read either', [], 'fail'],
  ])('%s', (_case, held, status) => {
    const privileges = new Map([...writes, ...held].map((p) => [p, 'Global' as const]));
    const check = privilegesCheck(
      ['list', 'listmember'],
      new Map([
        ['list', table('List')],
        ['listmember', table('ListMember')],
      ]),
      privileges,
    );
    expect(check.status).toBe(status);
    if (status === 'fail') expect(check.detail).toMatch(/read listmember \(prvReadList\)/);
  });
});
