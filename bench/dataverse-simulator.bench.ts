// Benchmark of the Dataverse simulator at sync scale: seeding, one 5000-row tracking page, a full
// tracking read of 100k contacts, and memory. Run: npx tsx bench/dataverse-simulator.bench.ts
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  startDataverseSimulator,
} from '../local/dataverse/simulator.server';

const SELECT =
  'firstname,lastname,emailaddress1,jobtitle,_parentcustomerid_value,new_synctomkto,statecode,modifiedon';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

const main = async (): Promise<void> => {
  const records = Number(process.env.BENCH_RECORDS ?? 100_000);
  const rssBefore = process.memoryUsage().rss;
  const sim = await startDataverseSimulator({
    records,
    counts: { account: Math.floor(records / 5) },
    limits: { requestsPerWindow: 1_000_000 },
  });
  const rssAfterSeed = process.memoryUsage().rss;
  try {
    const tokenRes = await fetch(sim.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: DEFAULT_CLIENT_ID,
        client_secret: DEFAULT_CLIENT_SECRET,
        scope: sim.scope,
      }),
    });
    const token = ((await tokenRes.json()) as { access_token: string }).access_token;
    const headers = {
      Authorization: `Bearer ${token}`,
      Accept: 'application/json',
      Prefer: 'odata.track-changes,odata.maxpagesize=5000',
    };
    const get = async (url: string) => {
      const t0 = performance.now();
      const res = await fetch(url, { headers });
      const body = (await res.json()) as {
        value: unknown[];
        '@odata.nextLink'?: string;
        '@odata.deltaLink'?: string;
      };
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      return { ms: performance.now() - t0, body };
    };

    const first = `${sim.apiUrl}contacts?$select=${SELECT}`;
    const pageTimes: number[] = [];
    for (let i = 0; i < 9; i++) pageTimes.push((await get(first)).ms);
    const fullPage = await get(first);
    const allTimes: number[] = [];
    for (let i = 0; i < 9; i++) {
      const full = (await get(`${sim.apiUrl}contacts`)).ms;
      allTimes.push(full);
    }

    const t0 = performance.now();
    let url: string | undefined = first;
    let rows = 0;
    let pages = 0;
    let deltaLink: string | undefined;
    while (url) {
      const { body } = await get(url);
      rows += body.value.length;
      pages++;
      url = body['@odata.nextLink'];
      deltaLink = body['@odata.deltaLink'];
    }
    const fullRead = performance.now() - t0;

    const ids = sim.control.listRows('contact', { limit: 1000 }).map((r) => r.contactid as string);
    for (const id of ids) sim.control.updateRow('contact', id, { jobtitle: 'Changed by bench' });
    const delta = await get(deltaLink as string);

    const rss = process.memoryUsage().rss;
    console.log('Dataverse simulator benchmark');
    console.log(
      `  rows seeded                      ${Object.entries({
        contact: sim.control.count('contact'),
        account: sim.control.count('account'),
        lead: sim.control.count('lead'),
        opportunity: sim.control.count('opportunity'),
      })
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
    console.log(`  seed time                        ${sim.seedMs.toFixed(0)} ms`);
    console.log(
      `  5000-row tracking page (8 cols)  median ${median(pageTimes).toFixed(1)} ms  (min ${Math.min(...pageTimes).toFixed(1)}, max ${Math.max(...pageTimes).toFixed(1)}, ${fullPage.body.value.length} rows)`,
    );
    console.log(`  5000-row page, all columns       median ${median(allTimes).toFixed(1)} ms`);
    console.log(
      `  full tracking read               ${rows} rows in ${pages} pages, ${fullRead.toFixed(0)} ms (${((rows / fullRead) * 1000).toFixed(0)} rows/s)`,
    );
    console.log(
      `  delta after 1000 edits           ${delta.body.value.length} rows in ${delta.ms.toFixed(1)} ms`,
    );
    console.log(
      `  RSS                              before ${mb(rssBefore)}, after seed ${mb(rssAfterSeed)}, end ${mb(rss)}`,
    );
  } finally {
    await sim.close();
  }
};

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
