import createQuery from '@zeit/cosmosdb-query';
import { installLinearQueries, linearFromClause } from '../../local/cosmos/query-code.patch';

const docs = Array.from({ length: 300 }, (_, i) => ({
  id: `p${i}`,
  _rid: `rid${String(i).padStart(5, '0')}`,
  email: `a${i % 7}@x`,
  n: i,
  tags: i % 3 === 0 ? ['t1', 't2'] : [],
  ...(i % 10 === 0 ? { pushState: { status: i % 20 === 0 ? 'parked' : 'pending' } } : {}),
}));

const QUERIES = [
  'SELECT * FROM c',
  "SELECT * FROM c WHERE c.email = 'a3@x'",
  'SELECT c.pushState AS state FROM c WHERE IS_DEFINED(c.pushState)',
  "SELECT TOP 2 * FROM c WHERE LOWER(c.email) = 'a1@x'",
  'SELECT VALUE COUNT(1) FROM c WHERE c.n > 100',
  'SELECT c.id FROM c WHERE c.n >= 10 ORDER BY c.n DESC',
  "SELECT c.id, t FROM c JOIN t IN c.tags WHERE t = 't2'",
];

describe('Cosmos stand-in: linear FROM clause', () => {
  const before = new Map(QUERIES.map((q) => [q, createQuery(q).exec(docs, { maxItemCount: 50 })]));

  it.each(QUERIES)('%s: no copy of the accumulator per document, the same answer', (query) => {
    installLinearQueries();
    const compiled = createQuery(query);
    // The FROM clause's copy per document is gone (a JOIN still flattens with a spread, once per document).
    expect(compiled.code).not.toMatch(/\[\.\.\.\$, \{/);
    expect(compiled.exec(docs, { maxItemCount: 50 })).toEqual(before.get(query));
  });

  it('leaves code without the pattern alone', () => {
    expect(linearFromClause('$c.map((c) => c)')).toBe('$c.map((c) => c)');
  });
});
