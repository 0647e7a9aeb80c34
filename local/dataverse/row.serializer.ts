import type { DataStore, Row, TableState } from './data.store';
import { JsonPageWriter } from './json-page.writer';
import type { ColumnDef } from './schema.catalog';

// A row as the Web API serves it: the etag, the (selected) columns, the key, and the annotations
// the caller asked for (formatted values, lookup targets, navigation properties).

const FV = 'OData.Community.Display.V1.FormattedValue';
const LLN = 'Microsoft.Dynamics.CRM.lookuplogicalname';
const ANP = 'Microsoft.Dynamics.CRM.associatednavigationproperty';

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 10 });
const formatDate = (iso: string): string => {
  const d = new Date(iso);
  const h = d.getUTCHours();
  const m = String(d.getUTCMinutes()).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h % 12 === 0 ? 12 : h % 12}:${m} ${h < 12 ? 'AM' : 'PM'}`;
};

/**
 * `number.format` for the values columns mostly hold (safe integers: version numbers, counts),
 * grouped by hand: Intl costs more than the rest of the row. Anything else, -0 included, goes to Intl.
 */
const formatNumber = (v: unknown): string => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) return number.format(n);
  const digits = String(n < 0 ? -n : n);
  let i = digits.length % 3 || 3;
  let out = digits.slice(0, i);
  for (; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
};

/** What serving a column needs that is the same for every row, worked out once per column. */
interface ColumnPlan {
  /** Property names and their JSON `"name":` prefixes: built once, not per row. */
  nameKey: ServedKey;
  fvKey: ServedKey;
  anpKey: ServedKey;
  llnKey: ServedKey;
  /** Choice value -> label, the first option winning as with `options.find`. */
  labels: Map<unknown, string>;
  /** Lookup target table -> navigation property (undefined when there is none). */
  navs: Map<string, string | undefined>;
}

/** A property name with its JSON text (`,"name":`), so a row serialised as text concatenates, not escapes. */
interface ServedKey {
  name: string;
  json: string;
}

const servedKey = (name: string): ServedKey => ({ name, json: `,${JSON.stringify(name)}:` });

const columnPlans = new WeakMap<ColumnDef, ColumnPlan>();

function columnPlan(c: ColumnDef): ColumnPlan {
  let plan = columnPlans.get(c);
  if (plan !== undefined) return plan;
  const labels = new Map<unknown, string>();
  for (const o of c.options ?? []) if (!labels.has(o.value)) labels.set(o.value, o.label);
  plan = {
    nameKey: servedKey(c.name),
    fvKey: servedKey(`${c.name}@${FV}`),
    anpKey: servedKey(`${c.name}@${ANP}`),
    llnKey: servedKey(`${c.name}@${LLN}`),
    labels,
    navs: new Map(),
  };
  columnPlans.set(c, plan);
  return plan;
}

/** Strings that JSON.stringify would change beyond adding quotes (quotes, backslashes, controls, surrogates). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(v)` for the values rows hold, without a call into the serialiser for plain strings. */
const jsonValue = (v: unknown): string => {
  if (typeof v === 'string') return NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v) ?? 'null';
};

/**
 * Where a served row's properties go, in order: an object (single reads, the control API) or JSON
 * text (pages: thousands of rows of some 40 properties each, where building objects only to
 * stringify them cost as much as everything else the simulator does for a page).
 */
interface RowSink<T> {
  begin(etag: string): void;
  put(key: ServedKey, value: unknown): void;
  end(): T;
}

const objectSink = (): RowSink<Record<string, unknown>> => {
  let out: Record<string, unknown> = {};
  return {
    begin(etag) {
      out = { '@odata.etag': etag };
    },
    put(key, value) {
      out[key.name] = value;
    },
    end: () => out,
  };
};

const textSink = (): RowSink<string> => {
  let out = '';
  return {
    begin(etag) {
      out = `{"@odata.etag":${jsonValue(etag)}`;
    },
    put(key, value) {
      out += key.json + jsonValue(value);
    },
    end: () => `${out}}`,
  };
};

/** Which annotations a request asked for, decided once per request rather than per value. */
interface AnnotationFlags {
  fv: boolean;
  anp: boolean;
  lln: boolean;
}

/** One row as an object: single reads, write representations and the control API. */
export const projectRow = (
  store: DataStore,
  state: TableState,
  row: Row,
  select: ColumnDef[] | undefined,
  annotate?: (term: string) => boolean,
): Record<string, unknown> => projector(store, state, select, annotate, objectSink())(row);

/** Rows of one request served as JSON text: everything that does not depend on the row is done once. */
export const rowSerializer = (
  store: DataStore,
  state: TableState,
  select: ColumnDef[] | undefined,
  annotate: ((term: string) => boolean) | undefined,
): ((row: Row) => string) => projector(store, state, select, annotate, textSink());

export const pageWriter = (head: Record<string, unknown>, rows: number): JsonPageWriter =>
  // Rows of the built-in tables serve at 0.5-2 KB; starting near the right size saves regrowing.
  new JsonPageWriter(head, 1024 + rows * 1024);

function projector<T>(
  store: DataStore,
  state: TableState,
  select: ColumnDef[] | undefined,
  annotate: ((term: string) => boolean) | undefined,
  sink: RowSink<T>,
): (row: Row) => T {
  const def = state.def;
  const columns = select ?? def.columns;
  const plans = columns.map(columnPlan);
  const flags: AnnotationFlags | undefined = annotate
    ? { fv: annotate(FV), anp: annotate(ANP), lln: annotate(LLN) }
    : undefined;
  const annotated = flags !== undefined && (flags.fv || flags.anp || flags.lln);
  const targets = new Map<string, TableState | undefined>();
  const targetTable = (name: string): TableState | undefined => {
    if (!targets.has(name)) targets.set(name, store.table(name));
    return targets.get(name);
  };
  const primaryKey = def.primaryKey;
  // A $select without the key still returns it, after the selected columns.
  const addKey = select !== undefined && !select.some((c) => c.name === primaryKey);
  const keyProperty = servedKey(primaryKey);
  return (row) => {
    sink.begin(`W/"${row.version}"`);
    const values = row.values;
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i] as ColumnDef;
      const plan = plans[i] as ColumnPlan;
      const v = values[c.name] ?? null;
      if (annotated && v !== null) annotations(sink, c, plan, v, row, flags, targetTable);
      sink.put(plan.nameKey, v);
    }
    if (addKey) sink.put(keyProperty, row.id);
    return sink.end();
  };
}

function annotations(
  sink: RowSink<unknown>,
  c: ColumnDef,
  plan: ColumnPlan,
  v: unknown,
  row: Row,
  flags: AnnotationFlags,
  targetTable: (name: string) => TableState | undefined,
): void {
  const fv = flags.fv;
  switch (c.type) {
    case 'choice':
      if (fv) sink.put(plan.fvKey, plan.labels.get(v) ?? String(v));
      break;
    case 'multichoice':
      if (fv) {
        const labels = String(v)
          .split(',')
          .map((x) => plan.labels.get(Number(x)) ?? x);
        sink.put(plan.fvKey, labels.join('; '));
      }
      break;
    case 'bool':
      if (fv) sink.put(plan.fvKey, (c.boolLabels ?? ['No', 'Yes'])[v === true ? 1 : 0]);
      break;
    case 'datetime':
      if (fv) sink.put(plan.fvKey, formatDate(String(v)));
      break;
    case 'money':
      if (fv) sink.put(plan.fvKey, money.format(Number(v)));
      break;
    case 'int':
    case 'decimal':
      if (fv) sink.put(plan.fvKey, formatNumber(v));
      break;
    case 'lookup': {
      const target = row.targets[c.name];
      if (!target) break;
      if (fv) {
        const t = targetTable(target);
        const name = t?.rows.get(String(v))?.values[t.def.primaryName];
        if (name !== undefined && name !== null) sink.put(plan.fvKey, name);
      }
      if (flags.anp) {
        if (!plan.navs.has(target)) {
          plan.navs.set(
            target,
            c.attribute === 'ownerid'
              ? 'ownerid'
              : Object.entries(c.navigations ?? {}).find(([, t]) => t === target)?.[0],
          );
        }
        const nav = plan.navs.get(target);
        if (nav) sink.put(plan.anpKey, nav);
      }
      if (flags.lln) sink.put(plan.llnKey, target);
      break;
    }
    default:
      break;
  }
}
