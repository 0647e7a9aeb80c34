import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { buildConsole } from '../../console/build';
import { CONTAINERS } from '../../shared/config/entity.catalog';
import { useHostStack } from './host-stack.fixture';
import { useStarted } from './lifecycle.helpers';
import { waitFor } from './polling.helpers';

/** Screenshots and downloads of a run; git-ignored. */
const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts', 'console');

/** Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it when missing). */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

interface Browser {
  context: BrowserContext;
  page: Page;
  /** What the page reported as failing: script errors, failed loads, CSP refusals. */
  problems: string[];
  close(): Promise<void>;
}

/** Chromium with a profile of its own (a fresh user data dir), removed again on close. */
async function launchChromium(): Promise<Browser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'console-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 900 },
    locale: 'en-GB',
    timezoneId: 'UTC',
    acceptDownloads: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  return {
    context,
    page,
    problems,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Does `act` (a click on Refresh, say) until `check` holds, or fails naming what it waited for. */
async function until(
  what: string,
  act: () => Promise<void>,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
) {
  await waitFor(
    async () => {
      await act();
      return (await check()) ? true : undefined;
    },
    what,
    timeoutMs,
    500,
  );
}

describe('the operator console in Chromium, on the local stack', () => {
  const stack = useHostStack({ records: 40, env: { SYNC_ENTITIES: 'lead,contact,account' } });
  const browser = useStarted(launchChromium);
  const page = () => browser().page;
  const consoleUrl = () => `http://127.0.0.1:${stack().host?.httpPort}/api/console/`;
  const panel = (id: string) => page().locator(`#panel-${id}`);
  const shot = async (name: string) => {
    // Announcements float over the page: dismissed first, so the picture shows the tab itself.
    const dismiss = page().getByRole('button', { name: 'Dismiss this message' });
    while ((await dismiss.count()) > 0) await dismiss.first().click();
    await page().screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const note = (text: RegExp): Locator => page().locator('.note').filter({ hasText: text }).first();
  const sim = () => stack().dataverse.control;
  const status = async () => {
    const response = await fetch(`http://127.0.0.1:${stack().host?.httpPort}/api/status`);
    return (await response.json()) as {
      entities: { entity: string; state: string; lastRun: { id: string; status: string } | null }[];
    };
  };
  /** The entity's last run, once it has finished (undefined while one runs). */
  const lastRunId = async (entity: string) => {
    const run = (await status()).entities.find((e) => e.entity === entity)?.lastRun;
    return run?.status === 'running' ? undefined : run?.id;
  };

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    await buildConsole();
    await stack().host?.timers.tick('scheduler');
    await waitFor(async () => {
      const { entities } = await status();
      return entities.every((e) => e.state === 'synced' && e.lastRun?.status !== 'running')
        ? true
        : undefined;
    }, 'the first sync of every entity');
  });

  afterEach(() => {
    // A failure of the page fails the test even when each step found what it looked for.
    expect(browser().problems.splice(0)).toEqual([]);
  });

  it('shows every entity on the Status tab, with its state, lag and throughput', async () => {
    await page().goto(consoleUrl());
    const rows = panel('status').locator('table.entities tbody tr');
    await rows.first().waitFor();
    // How long the console took to show the status: the browser's own clock, from navigation start.
    const shownMs = await page().evaluate(
      () => performance.getEntriesByName('console:status-shown')[0]?.startTime ?? Number.NaN,
    );
    await writeFile(
      path.join(ARTIFACTS, 'timings.json'),
      JSON.stringify({ statusShownMs: Math.round(shownMs) }),
    );
    expect(shownMs).toBeLessThan(5_000);

    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-entity')))).toEqual([
      'lead',
      'contact',
      'account',
    ]);
    for (const entity of ['lead', 'contact', 'account']) {
      const row = panel('status').locator(`tr[data-entity="${entity}"]`);
      await expectText(row.locator('.badge'), /Synced/);
      await expectText(row, /Succeeded · /);
    }
    await expectText(panel('status').locator('.cards'), /Entities synced\s*3\s*of 3/);
    await expectText(panel('status').locator('figure.chart figcaption'), /\d+ read · \d+ written/);
    await shot('status');

    // The tabs follow the WAI-ARIA pattern: arrow keys move between them.
    await page().getByRole('tab', { name: 'Status' }).focus();
    await page().keyboard.press('ArrowRight');
    expect(await page().getByRole('tab', { name: 'Errors' }).getAttribute('aria-selected')).toBe('true');
    await page().keyboard.press('ArrowLeft');
    expect(await page().getByRole('tab', { name: 'Status' }).getAttribute('aria-selected')).toBe('true');
  });

  it('pauses, resumes and resyncs an entity from its row, asking before a resync', async () => {
    const account = panel('status').locator('tr[data-entity="account"]');
    const refresh = () => panel('status').getByRole('button', { name: 'Refresh' }).click();
    await account.getByRole('button', { name: 'Pause account' }).click();
    await note(/account is paused/).waitFor();
    await expectText(account.locator('.badge'), /Paused/);
    await account.getByRole('button', { name: 'Resume account' }).click();
    await note(/account is resumed/).waitFor();
    await until('account to be synced again', refresh, async () =>
      /Synced/.test(await account.locator('.badge').innerText()),
    );

    // A resync asks first; Escape (or Cancel) leaves everything as it was.
    await account.getByRole('button', { name: 'Resync… account' }).click();
    const dialog = page().getByRole('dialog', { name: 'Resync account?' });
    await dialog.waitFor();
    await page().keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    const runsBefore = await lastRunId('account');
    await account.getByRole('button', { name: 'Resync… account' }).click();
    await dialog.getByRole('button', { name: 'Resync' }).click();
    await note(/A full reload of account is queued/).waitFor();
    await until('the resync of account to finish', refresh, async () => {
      const latest = await lastRunId('account');
      return (
        latest !== undefined &&
        latest !== runsBefore &&
        /Synced/.test(await account.locator('.badge').innerText())
      );
    });
  });

  it('finds a broken row’s error by search, exports it as CSV, and retries it once fixed until it is resolved', async () => {
    const contact = sim()
      .listRows('contact')
      .find((row) => row.new_synctomkto !== false);
    const rowId = String(contact?.contactid);
    // A lookup that is not a GUID: the mapper refuses the row, as it would a corrupt row in Dynamics.
    sim().updateRow('contact', rowId, { _parentcustomerid_value: 'not-a-guid' });

    const contactRow = panel('status').locator('tr[data-entity="contact"]');
    await contactRow.getByRole('button', { name: 'Sync now contact' }).click();
    await note(/A pull of contact is queued/).waitFor();
    await until(
      'the contact row to show its open error',
      () => panel('status').getByRole('button', { name: 'Refresh' }).click(),
      async () => (await contactRow.getByRole('button', { name: /1 error/ }).count()) === 1,
    );

    await page().getByRole('tab', { name: 'Errors' }).click();
    const search = panel('errors').getByRole('searchbox', { name: 'Search', exact: true });
    await search.fill(rowId);
    await search.press('Enter');
    const errorRow = panel('errors').locator(`tr[data-error-id="pull:contact:${rowId}:invalid_row"]`);
    await errorRow.waitFor();
    await expectText(errorRow, /_parentcustomerid_value: must be a GUID/);
    await expectText(errorRow, /invalid_row/);
    await shot('errors');

    const [download] = await Promise.all([
      page().waitForEvent('download'),
      panel('errors').getByRole('link', { name: 'Export CSV' }).click(),
    ]);
    const csvFile = path.join(ARTIFACTS, 'errors.csv');
    await download.saveAs(csvFile);
    const csv = (await readFile(csvFile, 'utf8')).split('\r\n');
    expect(csv[0]).toBe(
      'at,entity,operation,direction,code,recordId,email,message,excerpt,resolvedAt,correlationId',
    );
    expect(csv.filter((line) => line.includes(rowId))).toHaveLength(1);
    expect(download.suggestedFilename()).toMatch(/^sync-errors-\d{4}-\d{2}-\d{2}\.csv$/);

    // Fixed in Dynamics, then retried from the console: the row is read again and syncs.
    sim().updateRow('contact', rowId, { _parentcustomerid_value: null });
    await errorRow.getByRole('checkbox').check();
    await panel('errors').getByRole('button', { name: 'Retry selected (1)' }).click();
    await note(/Retry queued for 1 error/).waitFor();
    await until(
      'the retried error to leave the open list',
      () =>
        panel('errors')
          .getByRole('button', { name: /^Refresh/ })
          .click(),
      async () => (await errorRow.count()) === 0,
    );
    await expectText(panel('errors').locator('.empty'), /No errors match these filters/);
    const resolved = await fetch(
      `http://127.0.0.1:${stack().host?.httpPort}/api/errors?status=resolved&q=${rowId}`,
    );
    expect(((await resolved.json()) as { errors: { resolvedAt?: string }[] }).errors[0]?.resolvedAt).toEqual(
      expect.any(String),
    );
  });

  it('creates a person in Dynamics from the Person tab, changes its owner and creates a task, each seen in Dynamics', async () => {
    const email = 'grace.hopper@console.example';
    await stack().database.container(CONTAINERS.people.id).items.create({
      id: 'mkto-console-1',
      entity: 'person',
      firstName: 'Grace',
      lastName: 'Hopper',
      email,
      company: 'US Navy',
      jobTitle: 'Rear Admiral',
    });
    await page().getByRole('tab', { name: 'Person' }).click();
    await expectText(panel('person').locator('.empty'), /Look up a person/);
    await panel('person').getByLabel('Email or person id').fill(email);
    await panel('person').getByRole('button', { name: 'Look up' }).click();
    await expectText(panel('person').getByRole('heading', { level: 2 }), /Grace Hopper/);
    await expectText(panel('person').locator('#compare-title'), /not in Dynamics yet/);

    // Sync to Dynamics, as a contact.
    await panel('person').getByLabel('Contact', { exact: true }).check();
    await panel('person').getByRole('button', { name: 'Sync to Dynamics' }).click();
    const created = await note(/Created contact .* in Dynamics/).textContent();
    const rowId = GUID.exec(created ?? '')?.[0] ?? '';
    expect(sim().getRow('contact', rowId)).toMatchObject({ emailaddress1: email, lastname: 'Hopper' });
    await expectText(panel('person').locator('header'), new RegExp(`Dynamics contact ${rowId}`));

    // Change owner, to an enabled user other than the current owner.
    const currentOwner = sim().getRow('contact', rowId)?._ownerid_value;
    const owner = sim()
      .listRows('systemuser')
      .find((u) => u.isdisabled === false && u.applicationid === null && u.systemuserid !== currentOwner);
    const ownerId = String(owner?.systemuserid);
    await panel('person').getByLabel('New owner id').fill(ownerId);
    await panel('person').getByRole('button', { name: 'Change owner' }).click();
    await note(new RegExp(`now belongs to user ${ownerId}`)).waitFor();
    expect(sim().getRow('contact', rowId)?._ownerid_value).toBe(ownerId);

    // Create task.
    await panel('person').getByLabel('Subject').fill('Call about the console');
    await panel('person').getByLabel('Priority').selectOption('high');
    await panel('person').getByRole('button', { name: 'Create task' }).click();
    const task = await note(/Task created in Dynamics/).textContent();
    const taskId = GUID.exec(task ?? '')?.[0] ?? '';
    expect(sim().getRow('task', taskId)).toMatchObject({
      subject: 'Call about the console',
      prioritycode: 2,
      _regardingobjectid_value: rowId,
    });

    // A Dynamics user's edit shows as a difference until "Sync now" pulls it in.
    sim().updateRow('contact', rowId, { jobtitle: 'Rear Admiral (retired)' });
    await panel('person').getByRole('button', { name: 'Reload' }).click();
    const jobTitle = panel('person').locator('tr[data-field="jobTitle"]');
    await expectText(jobTitle, /differs/);
    await shot('person');
    await panel('person').getByRole('button', { name: 'Sync now' }).click();
    await note(/Sync started/).waitFor();
    await until(
      'the pulled job title to agree on both sides',
      () => panel('person').getByRole('button', { name: 'Reload' }).click(),
      async () => (await jobTitle.getAttribute('class')) !== 'differs',
    );
    await expectText(jobTitle, /Rear Admiral \(retired\)\s*Rear Admiral \(retired\)/);
  });

  it('runs Validate Sync: a table without change tracking fails with its fix, and passes once it is on', async () => {
    await page().getByRole('tab', { name: 'Validate' }).click();
    await expectText(panel('validate').locator('.empty'), /checks have not run yet/);
    sim().setChangeTracking('contact', false);
    try {
      await panel('validate').getByRole('button', { name: 'Run the checks' }).click();
      const contact = panel('validate').locator('li[data-check="table:contact"]');
      await expectText(
        contact,
        /Failed.*change tracking is off.*How to fix: turn on Track changes for Contact/,
      );
      await expectText(panel('validate').locator('#checks-title'), /1 check failed/);
      await shot('validate');
    } finally {
      sim().setChangeTracking('contact', true);
    }
    await panel('validate').getByRole('button', { name: 'Run the checks again' }).click();
    await expectText(panel('validate').locator('#checks-title'), /Everything works/);
  });
});

/** Waits until the locator's text (spaces collapsed) matches, or fails with what it read instead. */
async function expectText(locator: Locator, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = (await locator.first().innerText({ timeout: timeoutMs })).replace(/\s+/g, ' ');
    if (pattern.test(text)) return;
    if (Date.now() > deadline)
      throw new Error(`expected ${pattern} in ${String(locator)}; it reads "${text.slice(0, 300)}"`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
