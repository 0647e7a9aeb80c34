import { randomUUID } from 'node:crypto';
import type { DataStore } from './data.store';
import { OBJECT_TYPE_CODES } from './schema.catalog';
import { errors } from './simulator.errors';
import type { RowWriter } from './write.handler';

// Dataverse stores every connection twice: as written (ismaster true), and seen from the other end
// with its two records and roles swapped, each row pointing at the other through
// relatedconnectionid. A write to either row is applied to both; deleting one deletes the other
// (the cascade of relatedconnectionid).

const SWAPPED: Readonly<Record<string, string>> = {
  _record1id_value: '_record2id_value',
  _record2id_value: '_record1id_value',
  _record1roleid_value: '_record2roleid_value',
  _record2roleid_value: '_record1roleid_value',
};

/** Each row's own columns: derived for it, never copied from the other row. */
const OWN = new Set([
  'connectionid',
  'name',
  'ismaster',
  'record1objecttypecode',
  'record2objecttypecode',
  '_relatedconnectionid_value',
]);

const seenFromTheOtherEnd = <T>(o: Readonly<Record<string, T>>): Record<string, T> => {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(o)) if (!OWN.has(k)) out[SWAPPED[k] ?? k] = v;
  return out;
};

/** The type codes of the ends a write sets, and the name: that of the record the row connects to. */
const derive = (
  store: DataStore,
  changes: Record<string, unknown>,
  targets: Record<string, string | undefined>,
): void => {
  for (const end of ['1', '2']) {
    const column = `_record${end}id_value`;
    if (!(column in changes)) continue;
    const target = targets[column];
    changes[`record${end}objecttypecode`] = target ? (OBJECT_TYPE_CODES[target] ?? null) : null;
    if (end !== '2') continue;
    const table = target ? store.table(target) : undefined;
    const row = table?.rows.get(String(changes[column]));
    changes.name = (table && row?.values[table.def.primaryName]) ?? null;
  }
};

/** Creates or updates a connection together with its reciprocal. The caller runs it atomically. */
export const pairConnection: RowWriter = (store, state, id, parsed, userId) => {
  const existing = state.rows.get(id);
  const changes = { ...parsed.changes };
  const targets = { ...parsed.targets };
  derive(store, changes, targets);
  if (!existing) {
    if (typeof changes._record1id_value !== 'string' || typeof changes._record2id_value !== 'string') {
      throw errors.badRequest(
        'A connection needs both of its records: record1id and record2id.',
        '0x80040203',
      );
    }
    const relatedId = randomUUID();
    const master = store.write(
      state,
      id,
      { ...changes, ismaster: true, _relatedconnectionid_value: relatedId },
      { ...targets, _relatedconnectionid_value: 'connection' },
      userId,
    );
    const reciprocal = seenFromTheOtherEnd(master.row.values);
    const reciprocalTargets = seenFromTheOtherEnd<string | undefined>(master.row.targets);
    derive(store, reciprocal, reciprocalTargets);
    store.write(
      state,
      relatedId,
      { ...reciprocal, ismaster: false, _relatedconnectionid_value: id },
      { ...reciprocalTargets, _relatedconnectionid_value: 'connection' },
      userId,
    );
    return master;
  }
  const result = store.write(state, id, changes, targets, userId);
  const relatedId = existing.values._relatedconnectionid_value;
  if (typeof relatedId === 'string' && state.rows.has(relatedId)) {
    const mirrored = seenFromTheOtherEnd(parsed.changes);
    const mirroredTargets = seenFromTheOtherEnd(parsed.targets);
    derive(store, mirrored, mirroredTargets);
    store.write(state, relatedId, mirrored, mirroredTargets, userId);
  }
  return result;
};
