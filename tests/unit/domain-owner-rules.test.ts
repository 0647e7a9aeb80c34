import type { Owner } from '../../shared/domain/document.schema';
import { directoryOwner, ownerOfRow, ownerProblem, sameOwner } from '../../shared/domain/owner.rules';
import type { GenericRecord } from '../../shared/domain/record.model';
import { sourceMeta } from './domain-fixtures';

const record = (entity: string, values: GenericRecord['values']): GenericRecord => ({
  id: 'u1',
  entity,
  values,
  dynamics: sourceMeta('u1', entity),
  sync: { updatedAt: 'now' },
});
const ada: Owner = { id: 'u1', type: 'systemuser', name: 'Ada', email: 'ada@x.example' };

describe('owner rules', () => {
  it.each([
    [
      'a user',
      record('systemuser', { fullname: 'Ada', internalemailaddress: 'ada@x.example', isdisabled: false }),
      { ...ada, disabled: false },
    ],
    [
      'a disabled user without email',
      record('systemuser', { fullname: 'Ada', internalemailaddress: '', isdisabled: true }),
      { ...ada, email: null, disabled: true },
    ],
    [
      'a team',
      record('team', { name: 'Sales' }),
      { id: 'u1', type: 'team', name: 'Sales', email: null, disabled: false },
    ],
    ['a team membership is no owner', record('teammembership', { teamid: 't' }), undefined],
  ])('directoryOwner: %s', (_name, doc, expected) => {
    expect(directoryOwner(doc)).toEqual(expected);
  });

  it.each([
    ['no lookup', null, undefined, undefined, undefined],
    ['known to the directory', { id: 'U1', table: 'systemuser' }, new Map([['u1', ada]]), undefined, ada],
    [
      'a team',
      { id: 't1', table: 'team' },
      new Map<string, Owner>(),
      undefined,
      { id: 't1', type: 'team', name: null, email: null },
    ],
    [
      'unknown, the same owner as before: kept',
      { id: 'u1', table: 'systemuser' },
      new Map<string, Owner>(),
      ada,
      ada,
    ],
    [
      'unknown, another owner than before',
      { id: 'u2', table: 'systemuser' },
      undefined,
      ada,
      { id: 'u2', type: 'systemuser', name: null, email: null },
    ],
  ])('ownerOfRow: %s', (_name, lookup, directory, previous, expected) => {
    expect(ownerOfRow(lookup, directory, previous)).toEqual(expected);
  });

  it.each([
    [ada, ada, true],
    [ada, { ...ada, name: 'Ada L.' }, false],
    [undefined, undefined, true],
    [ada, undefined, false],
  ])('sameOwner %#', (a, b, same) => {
    expect(sameOwner(a, b)).toBe(same);
  });

  it.each([
    [undefined, 'unknown'],
    [{ ...ada, disabled: true }, 'disabled'],
    [{ ...ada, disabled: false }, undefined],
  ])('ownerProblem %#', (owner, problem) => {
    expect(ownerProblem(owner)).toBe(problem);
  });
});
