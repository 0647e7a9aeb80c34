import type { ColumnDef, TableDef } from './schema.catalog';
import { errors } from './simulator.errors';

// OData query options as Dataverse supports them: $filter (comparisons, and/or/not, parentheses,
// contains/startswith/endswith, null), $orderby, $select. String comparisons are case-insensitive,
// like the SQL collation behind Dataverse; comparisons against null follow SQL (never true except
// `eq null` / `ne null`).

type Values = Readonly<Record<string, unknown>>;
export type Predicate = (values: Values) => boolean;

type Token =
  | { kind: 'ident'; text: string; pos: number }
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'guid'; value: string; pos: number }
  | { kind: 'datetime'; value: string; pos: number }
  | { kind: 'punct'; text: '(' | ')' | ','; pos: number };

/**
 * Literals and names, tried in this order: a GUID and a date both start like a number. A GUID must
 * end where its word ends, or the start of a longer name would be read as one.
 */
const LEXEMES: readonly (readonly [RegExp, (text: string, pos: number) => Token])[] = [
  [
    /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9A-Za-z_])/,
    (text, pos) => ({ kind: 'guid', value: text.toLowerCase(), pos }),
  ],
  [
    /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?/,
    (text, pos) => ({ kind: 'datetime', value: text, pos }),
  ],
  [
    /^-?\d+(\.\d+)?([eE][+-]?\d+)?[mMdDfFlL]?/,
    (text, pos) => ({ kind: 'number', value: parseFloat(text), pos }),
  ],
  [/^[A-Za-z_][A-Za-z0-9_./]*/, (text, pos) => ({ kind: 'ident', text, pos })],
];

/** The literal or name `rest` starts with, and how many characters it takes. */
const lexeme = (rest: string, pos: number): { token: Token; length: number } | undefined => {
  for (const [pattern, token] of LEXEMES) {
    const m = pattern.exec(rest);
    if (m) return { token: token(m[0], pos), length: m[0].length };
  }
  return undefined;
};

const tokenize = (text: string): Token[] => {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++;
      continue;
    }
    if (ch === '(' || ch === ')' || ch === ',') {
      tokens.push({ kind: 'punct', text: ch, pos: i });
      i++;
      continue;
    }
    if (ch === "'") {
      let value = '';
      let j = i + 1;
      for (;;) {
        if (j >= text.length) throw errors.syntax(i, text);
        const c = text[j] as string;
        if (c === "'") {
          if (text[j + 1] === "'") {
            value += "'";
            j += 2;
            continue;
          }
          break;
        }
        value += c;
        j++;
      }
      tokens.push({ kind: 'string', value, pos: i });
      i = j + 1;
      continue;
    }
    const found = lexeme(text.slice(i), i);
    if (!found) throw errors.syntax(i, text);
    tokens.push(found.token);
    i += found.length;
  }
  return tokens;
};

type Operand =
  | { kind: 'column'; column: ColumnDef }
  | { kind: 'literal'; value: unknown; edm: string }
  | { kind: 'call'; name: string; args: Operand[] };

const literal = (value: unknown, edm: string): Operand => ({ kind: 'literal', value, edm });

const COMPARISONS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const STRING_FUNCS = new Set(['contains', 'startswith', 'endswith']);
const OP_KIND: Record<string, string> = {
  eq: 'Equal',
  ne: 'NotEqual',
  gt: 'GreaterThan',
  ge: 'GreaterThanOrEqual',
  lt: 'LessThan',
  le: 'LessThanOrEqual',
};

export const edmType = (c: ColumnDef): string => {
  switch (c.type) {
    // A multi-select choice is served and compared as the string of its values.
    case 'string':
    case 'memo':
    case 'multichoice':
      return 'Edm.String';
    case 'int':
    case 'choice':
      return 'Edm.Int32';
    case 'decimal':
    case 'money':
      return 'Edm.Decimal';
    case 'bool':
      return 'Edm.Boolean';
    case 'datetime':
      return 'Edm.DateTimeOffset';
    case 'dateonly':
      return 'Edm.Date';
    case 'guid':
    case 'lookup':
      return 'Edm.Guid';
  }
};

const isNumericEdm = (t: string) =>
  t === 'Edm.Int32' || t === 'Edm.Decimal' || t === 'Edm.Double' || t === 'Edm.Int64';
const compatible = (a: string, b: string): boolean =>
  a === b ||
  a === 'null' ||
  b === 'null' ||
  (isNumericEdm(a) && isNumericEdm(b)) ||
  ((a === 'Edm.DateTimeOffset' || a === 'Edm.Date') && (b === 'Edm.DateTimeOffset' || b === 'Edm.Date'));

export const toTime = (v: unknown): number =>
  typeof v === 'string' ? Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v) : NaN;

const compareValues = (a: unknown, b: unknown, edm: string): number => {
  if (edm === 'Edm.DateTimeOffset' || edm === 'Edm.Date') {
    const x = toTime(a);
    const y = toTime(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = Number(a);
  const y = Number(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

function either(l: Predicate, r: Predicate): Predicate {
  return (v) => l(v) || r(v);
}

function both(l: Predicate, r: Predicate): Predicate {
  return (v) => l(v) && r(v);
}

/**
 * The bounds a filter puts on one datetime column in its top-level conjunction (`createdon ge X and
 * createdon lt Y and ...`): every matching row lies inside them, so the pager may read the range
 * from an index instead of testing every row. The filter itself still decides each row.
 */
export interface TimeRange {
  column: string;
  from: number;
  fromInclusive: boolean;
  to: number;
  toInclusive: boolean;
}

export interface FilterPlan {
  predicate: Predicate;
  range: TimeRange | undefined;
}

interface TimeBound {
  column: string;
  op: string;
  time: number;
}

/** The narrowest range the bounds on the first bounded column allow. */
const rangeOf = (bounds: readonly TimeBound[]): TimeRange | undefined => {
  const column = bounds[0]?.column;
  if (column === undefined) return undefined;
  const range: TimeRange = { column, from: -Infinity, fromInclusive: true, to: Infinity, toInclusive: true };
  for (const b of bounds) {
    if (b.column !== column) continue;
    const lower = b.op === 'ge' || b.op === 'gt' || b.op === 'eq';
    const upper = b.op === 'le' || b.op === 'lt' || b.op === 'eq';
    if (lower && (b.time > range.from || (b.time === range.from && b.op === 'gt'))) {
      range.from = b.time;
      range.fromInclusive = b.op !== 'gt';
    }
    if (upper && (b.time < range.to || (b.time === range.to && b.op === 'lt'))) {
      range.to = b.time;
      range.toInclusive = b.op !== 'lt';
    }
  }
  return range;
};

class FilterParser {
  private i = 0;
  private readonly tokens: Token[];
  /** Bounds of the comparisons every matching row must pass: none under `not` or beside an `or`. */
  private readonly bounds: TimeBound[] = [];

  constructor(
    private readonly text: string,
    private readonly table: TableDef,
  ) {
    this.tokens = tokenize(text);
  }

  parse(): FilterPlan {
    if (this.tokens.length === 0) throw errors.syntax(0, this.text);
    const predicate = this.orExpr();
    if (this.i < this.tokens.length) throw errors.syntax(this.peek()?.pos ?? this.text.length, this.text);
    return { predicate, range: rangeOf(this.bounds) };
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private isWord(word: string): boolean {
    const t = this.peek();
    return t?.kind === 'ident' && t.text.toLowerCase() === word;
  }

  private expectPunct(p: '(' | ')' | ','): void {
    const t = this.peek();
    if (t?.kind !== 'punct' || t.text !== p) throw errors.syntax(t?.pos ?? this.text.length, this.text);
    this.i++;
  }

  private orExpr(): Predicate {
    const mark = this.bounds.length;
    let joins = 0;
    const p = this.joined(
      'or',
      () => this.andExpr(),
      (l, r) => (joins++, either(l, r)),
    );
    // A row may match either side of an `or`, so neither side's bounds hold for every row.
    if (joins > 0) this.bounds.length = mark;
    return p;
  }

  private andExpr(): Predicate {
    return this.joined('and', () => this.unary(), both);
  }

  /** `operand (word operand)*`, grouped from the left; `or` and `and` differ only in what they join. */
  private joined(
    word: 'or' | 'and',
    operand: () => Predicate,
    join: (l: Predicate, r: Predicate) => Predicate,
  ): Predicate {
    let left = operand();
    while (this.isWord(word)) {
      this.i++;
      left = join(left, operand());
    }
    return left;
  }

  private unary(): Predicate {
    if (this.isWord('not')) {
      this.i++;
      const mark = this.bounds.length;
      const inner = this.unary();
      this.bounds.length = mark;
      return (v) => !inner(v);
    }
    const t = this.peek();
    if (t?.kind === 'punct' && t.text === '(') {
      this.i++;
      const inner = this.orExpr();
      this.expectPunct(')');
      return inner;
    }
    return this.comparison();
  }

  private operand(): Operand {
    const t = this.peek();
    if (!t) throw errors.syntax(this.text.length, this.text);
    this.i++;
    switch (t.kind) {
      case 'string':
        return literal(t.value, 'Edm.String');
      case 'number':
        return literal(t.value, Number.isInteger(t.value) ? 'Edm.Int32' : 'Edm.Decimal');
      case 'guid':
        return literal(t.value, 'Edm.Guid');
      case 'datetime':
        return literal(t.value, t.value.length === 10 ? 'Edm.Date' : 'Edm.DateTimeOffset');
      case 'punct':
        throw errors.syntax(t.pos, this.text);
      case 'ident': {
        const word = t.text;
        const lower = word.toLowerCase();
        if (lower === 'null') return literal(null, 'null');
        if (lower === 'true' || lower === 'false') return literal(lower === 'true', 'Edm.Boolean');
        const next = this.peek();
        if (next?.kind === 'punct' && next.text === '(') {
          if (!STRING_FUNCS.has(lower))
            throw errors.badRequest(`An unknown function with name '${word}' was found.`);
          this.i++;
          const args: Operand[] = [this.operand()];
          while (this.peek()?.kind === 'punct' && (this.peek() as { text: string }).text === ',') {
            this.i++;
            args.push(this.operand());
          }
          this.expectPunct(')');
          return { kind: 'call', name: lower, args };
        }
        const column = this.table.columnMap.get(word);
        if (!column) throw errors.unknownProperty(word, this.table.logicalName);
        return { kind: 'column', column };
      }
    }
  }

  private comparison(): Predicate {
    const left = this.operand();
    const t = this.peek();
    if (t?.kind === 'ident' && COMPARISONS.has(t.text.toLowerCase())) {
      const op = t.text.toLowerCase();
      this.i++;
      const right = this.operand();
      return this.compile(left, op, right);
    }
    if (left.kind === 'call') return this.callPredicate(left);
    if (left.kind === 'column' && left.column.type === 'bool') {
      const name = left.column.name;
      return (v) => v[name] === true;
    }
    throw errors.syntax(t?.pos ?? this.text.length, this.text);
  }

  private callPredicate(call: Extract<Operand, { kind: 'call' }>): Predicate {
    const [a, b] = call.args;
    if (
      call.args.length !== 2 ||
      a?.kind !== 'column' ||
      b?.kind !== 'literal' ||
      typeof b.value !== 'string'
    ) {
      throw errors.badRequest(`The '${call.name}' function requires a column and a string literal.`);
    }
    const name = a.column.name;
    const needle = b.value.toLowerCase();
    const test =
      call.name === 'contains'
        ? (s: string) => s.includes(needle)
        : call.name === 'startswith'
          ? (s: string) => s.startsWith(needle)
          : (s: string) => s.endsWith(needle);
    return (v) => {
      const x = v[name];
      return typeof x === 'string' && test(x.toLowerCase());
    };
  }

  /** Compares a row's value with the literal; a datetime literal is parsed once, not once a row. */
  private comparer(
    column: ColumnDef,
    edm: string,
    operator: string,
    lit: unknown,
  ): (v: Values) => number | undefined {
    const name = column.name;
    if (edm === 'Edm.DateTimeOffset' || edm === 'Edm.Date') {
      const time = toTime(lit);
      if (column.type === 'datetime' && operator !== 'ne' && !Number.isNaN(time))
        this.bounds.push({ column: name, op: operator, time });
      return (v) => {
        const x = v[name];
        if (x === null || x === undefined) return undefined;
        const t = toTime(x);
        return t < time ? -1 : t > time ? 1 : 0;
      };
    }
    return (v) => {
      const x = v[name];
      return x === null || x === undefined ? undefined : compareValues(x, lit, edm);
    };
  }

  private compile(left: Operand, op: string, right: Operand): Predicate {
    let columnSide = left;
    let literalSide = right;
    let operator = op;
    if (left.kind === 'literal' && right.kind === 'column') {
      columnSide = right;
      literalSide = left;
      operator = ({ gt: 'lt', ge: 'le', lt: 'gt', le: 'ge' } as Record<string, string>)[op] ?? op;
    }
    if (
      columnSide.kind === 'call' &&
      literalSide.kind === 'literal' &&
      typeof literalSide.value === 'boolean'
    ) {
      const inner = this.callPredicate(columnSide);
      const want = literalSide.value;
      return operator === 'eq' ? (v) => inner(v) === want : (v) => inner(v) !== want;
    }
    if (columnSide.kind !== 'column' || literalSide.kind !== 'literal') {
      throw errors.badRequest('Filter comparisons must compare a column with a literal value.');
    }
    const column = columnSide.column;
    const edm = edmType(column);
    if (!compatible(edm, literalSide.edm)) {
      throw errors.badRequest(
        `A binary operator with incompatible types was detected. Found operand types '${edm}' and '${literalSide.edm}' for operator kind '${OP_KIND[operator] ?? operator}'.`,
      );
    }
    const name = column.name;
    const lit = literalSide.value;
    if (lit === null) {
      if (operator === 'eq') return (v) => v[name] === null || v[name] === undefined;
      if (operator === 'ne') return (v) => v[name] !== null && v[name] !== undefined;
      return () => false;
    }
    const cmp = this.comparer(column, edm, operator, lit);
    switch (operator) {
      case 'eq':
        return (v) => cmp(v) === 0;
      case 'ne':
        return (v) => {
          const c = cmp(v);
          return c !== undefined && c !== 0;
        };
      case 'gt':
        return (v) => (cmp(v) ?? 0) > 0;
      case 'ge':
        return (v) => {
          const c = cmp(v);
          return c !== undefined && c >= 0;
        };
      case 'lt':
        return (v) => (cmp(v) ?? 0) < 0;
      default:
        return (v) => {
          const c = cmp(v);
          return c !== undefined && c <= 0;
        };
    }
  }
}

/** The filter as a predicate over a row's values, with the datetime range it implies if any. */
export const parseFilterPlan = (text: string, table: TableDef): FilterPlan =>
  new FilterParser(text, table).parse();

export const parseFilter = (text: string, table: TableDef): Predicate =>
  parseFilterPlan(text, table).predicate;

export interface OrderKey {
  column: ColumnDef;
  desc: boolean;
}

export const parseOrderBy = (text: string, table: TableDef): OrderKey[] =>
  text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const [name, dir, extra] = part.split(/\s+/);
      const column = table.columnMap.get(name ?? '');
      if (!column) throw errors.unknownProperty(name ?? '', table.logicalName);
      const d = (dir ?? 'asc').toLowerCase();
      if ((d !== 'asc' && d !== 'desc') || extra !== undefined)
        throw errors.syntax(part.indexOf(dir ?? ''), text);
      return { column, desc: d === 'desc' };
    });

export const parseSelect = (text: string, table: TableDef): ColumnDef[] => {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  // A column named twice is served once, as an object would hold it.
  return [...new Set(names)].map((name) => {
    const column = table.columnMap.get(name);
    if (!column) throw errors.unknownProperty(name, table.logicalName);
    return column;
  });
};

/**
 * Compares two rows' values by the order keys; nulls sort first ascending (as in SQL Server),
 * and the primary key breaks ties so that paging positions are total.
 */
export const makeComparator = (keys: OrderKey[], primaryKey: string) => {
  return (a: Values, b: Values): number => {
    for (const { column, desc } of keys) {
      const x = a[column.name];
      const y = b[column.name];
      let c: number;
      if (x === null || x === undefined) c = y === null || y === undefined ? 0 : -1;
      else if (y === null || y === undefined) c = 1;
      else c = compareValues(x, y, edmType(column));
      if (c !== 0) return desc ? -c : c;
    }
    const p = a[primaryKey] as string;
    const q = b[primaryKey] as string;
    return p < q ? -1 : p > q ? 1 : 0;
  };
};

/** `odata.include-annotations` patterns -> matcher for one annotation term. */
export const annotationMatcher = (patterns: string[]): ((term: string) => boolean) => {
  if (patterns.length === 0) return () => false;
  return (term) =>
    patterns.some((p) => p === '*' || p === term || (p.endsWith('*') && term.startsWith(p.slice(0, -1))));
};
