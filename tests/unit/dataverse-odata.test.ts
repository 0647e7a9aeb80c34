import {
  and,
  asGuid,
  contains,
  dateLiteral,
  encodeQuery,
  entityPath,
  eq,
  guid,
  identifier,
  literal,
  odataFilter,
  or,
  orderBy,
  selectList,
  startsWith,
  stringLiteral,
} from '../../shared/dataverse/odata.query';

const id = '6f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8';

describe('odata literals', () => {
  it('doubles single quotes in strings', () => {
    expect(stringLiteral("O'Brien")).toBe("'O''Brien'");
    expect(stringLiteral("''")).toBe("''''''");
    expect(stringLiteral('')).toBe("''");
  });

  it('keeps an injection attempt inside one literal', () => {
    const attack = "x' or 1 eq 1 or emailaddress1 eq 'a";
    const filter = eq('emailaddress1', attack).text;
    expect(filter).toBe("emailaddress1 eq 'x'' or 1 eq 1 or emailaddress1 eq ''a'");
    // The literal opens after "eq " and the only unpaired quote is the closing one at the end.
    const inner = filter.slice('emailaddress1 eq '.length);
    expect(inner.startsWith("'")).toBe(true);
    expect(inner.endsWith("'")).toBe(true);
    expect(inner.slice(1, -1).replace(/''/g, '')).not.toContain("'");
  });

  it('renders guids unquoted, validated, lower-case', () => {
    expect(guid(id.toUpperCase())).toBe(id);
    expect(guid(`{${id}}`)).toBe(id);
    expect(() => guid(`${id}') or (1 eq 1`)).toThrow(/Not a GUID/);
    expect(literal(asGuid(id))).toBe(id);
    expect(() => asGuid('nope')).toThrow();
  });

  it('renders dates, numbers, booleans, null', () => {
    expect(dateLiteral(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)))).toBe('2024-01-02T03:04:05.000Z');
    expect(dateLiteral('2024-01-02')).toBe('2024-01-02');
    expect(() => dateLiteral('2024-01-02) or (true')).toThrow();
    expect(() => dateLiteral(new Date(NaN))).toThrow();
    expect(literal(42)).toBe('42');
    expect(literal(-1.5)).toBe('-1.5');
    expect(() => literal(Number.NaN)).toThrow();
    expect(() => literal(Infinity)).toThrow();
    expect(literal(true)).toBe('true');
    expect(literal(null)).toBe('null');
  });

  it('rejects identifiers that are not plain names', () => {
    expect(identifier('new_synctomkto')).toBe('new_synctomkto');
    for (const bad of ['a b', "x'", 'a,b', 'a)', '', '1abc', 'a/b', 'a eq 1']) {
      expect(() => identifier(bad)).toThrow(/identifier/);
    }
  });
});

describe('filter building', () => {
  it('tagged template turns every value into a literal', () => {
    const email = "a'b@example.com";
    const since = new Date(Date.UTC(2024, 5, 1));
    const filter = odataFilter`emailaddress1 eq ${email} and modifiedon ge ${since} and _ownerid_value eq ${asGuid(id)}`;
    expect(filter.text).toBe(
      `emailaddress1 eq 'a''b@example.com' and modifiedon ge 2024-06-01T00:00:00.000Z and _ownerid_value eq ${id}`,
    );
  });

  it('composes with and/or and functions', () => {
    const filter = and(eq('statecode', 0), or(contains('fullname', "d'Arc"), startsWith('lastname', 'Mc')));
    expect(filter.text).toBe(
      "(statecode eq 0) and ((contains(fullname,'d''Arc')) or (startswith(lastname,'Mc')))",
    );
    expect(() => and()).toThrow();
  });

  it('builds select lists and order by', () => {
    expect(selectList(['firstname', 'lastname', 'firstname'])).toBe('firstname,lastname');
    expect(() => selectList([])).toThrow();
    expect(() => selectList(['firstname', 'lastname&$filter=x'])).toThrow();
    expect(orderBy('modifiedon', ['contactid', 'desc'])).toBe('modifiedon,contactid desc');
  });

  it('builds entity paths for ids and alternate keys', () => {
    expect(entityPath('contacts', id)).toBe(`contacts(${id})`);
    expect(entityPath('contacts', { emailaddress1: "o'neil@x.com" })).toBe(
      "contacts(emailaddress1='o''neil@x.com')",
    );
    expect(() => entityPath('contacts', "1') or ('1")).toThrow();
  });

  it('percent-encodes query values so & # + and spaces cannot break out', () => {
    const q = encodeQuery({
      $filter: eq('fullname', 'a&b #c+d'),
      $select: 'fullname',
      $top: 5,
      skip: undefined,
    });
    expect(q).toBe("$filter=fullname%20eq%20'a%26b%20%23c%2Bd'&$select=fullname&$top=5");
    const params = new URLSearchParams(q);
    expect(params.get('$filter')).toBe("fullname eq 'a&b #c+d'");
  });
});
