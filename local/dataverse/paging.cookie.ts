// Opaque continuation tokens. `$skiptoken` looks like the real service's XML paging cookie; what
// it carries is a position (last key seen), not an offset, so rows added or removed between pages
// neither repeat nor skip rows that stayed in place.

export interface PageCookie {
  /** Page number (informative, as in the real cookie). */
  page: number;
  /** Primary key of the last row served. */
  lastId?: string;
  /** Order-by values of the last row served. */
  keys?: unknown[];
  /** Change-tracking initial load: version at which the load started. */
  startVersion?: number;
  /** Delta read: fixed upper version and offset into the net change list. */
  upTo?: number;
  offset?: number;
  tracking?: boolean;
}

export const encodeSkipToken = (cookie: PageCookie): string => {
  const inner = Buffer.from(JSON.stringify(cookie)).toString('base64url');
  return `<cookie pagenumber="${cookie.page}" pagingcookie="${inner}" istracking="${cookie.tracking ? 'True' : 'False'}" />`;
};

export const decodeSkipToken = (token: string): PageCookie | undefined => {
  const m = /pagingcookie="([A-Za-z0-9_-]*)"/.exec(token);
  if (!m) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(m[1] as string, 'base64url').toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    return parsed as PageCookie;
  } catch {
    return undefined;
  }
};

export interface DeltaToken {
  version: number;
  epoch: number;
  issuedAt: number;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Shaped like the real `919042!08/22/2017 08:10:44`, with an expiry epoch in the middle. */
export const encodeDeltaToken = (t: DeltaToken): string => {
  const d = new Date(t.issuedAt);
  const stamp = `${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return `${t.version}!${t.epoch}!${stamp}`;
};

export const decodeDeltaToken = (text: string): DeltaToken | undefined => {
  const m = /^(\d+)!(\d+)!(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) return undefined;
  const [, version, epoch, mo, da, yr, hh, mi, ss] = m.map(Number) as number[];
  return {
    version: version as number,
    epoch: epoch as number,
    issuedAt: Date.UTC(yr as number, (mo as number) - 1, da, hh, mi, ss),
  };
};

export interface PreferHeader {
  trackChanges: boolean;
  maxPageSize?: number;
  annotations: string[];
  returnRepresentation: boolean;
  continueOnError: boolean;
}

/** Splits a Prefer header on commas outside quotes. */
export const parsePrefer = (header: string | undefined): PreferHeader => {
  const out: PreferHeader = {
    trackChanges: false,
    annotations: [],
    returnRepresentation: false,
    continueOnError: false,
  };
  if (!header) return out;
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of header) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  for (const raw of parts) {
    const part = raw.trim();
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value =
      eq < 0
        ? ''
        : part
            .slice(eq + 1)
            .trim()
            .replace(/^"|"$/g, '');
    if (name === 'odata.track-changes') out.trackChanges = true;
    else if (name === 'odata.maxpagesize') {
      const n = Number(value);
      if (Number.isInteger(n) && n > 0) out.maxPageSize = n;
    } else if (name === 'odata.include-annotations') {
      out.annotations = value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    } else if (name === 'return' && value === 'representation') out.returnRepresentation = true;
    else if (name === 'odata.continue-on-error') out.continueOnError = true;
  }
  return out;
};
