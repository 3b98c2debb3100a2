/**
 * The web UI in a real browser (Debian's chromium through playwright-core) against the whole
 * service: sign in from the link a Hail client prints, find a batch submitted through the API,
 * open it and a job, read its main log while it runs and after, use a query, cancel a batch,
 * and, as an admin, edit a pool. Every page is photographed into .tmp/ui/.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { job, startTestService, waitFor, type TestService } from '../support/service';
import { getPool } from '../../db/queries/pools';

const SHOTS = path.resolve('.tmp/ui');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let s: TestService;
let browser: Browser;
let opsToken: string;

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

async function submit(name: string, commands: string[]): Promise<number> {
  const res = await s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: {
      batch: { billing_project: s.billingProject, n_jobs: commands.length, token: `${name}-${Date.now()}`, attributes: { name } },
      bunch: commands.map((cmd, i) => job(i + 1, ['sh', '-c', cmd], { attributes: { name: `${name}-${i + 1}` } })),
    },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: number }).id;
}

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.fill('input[name=token]', token);
  // The form posts and is redirected back; wait until that navigation has landed, or a later
  // reload can race it (Chromium: "Not attached to an active page").
  await Promise.all([page.waitForURL((u) => u.pathname !== '/login', { waitUntil: 'load' }), page.click('button[type=submit]')]);
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  s = await startTestService({ name: 'ui-browser', pools: 'standard:1' });
  opsToken = await s.addUser('ops', { admin: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
});

afterAll(async () => {
  await browser?.close();
  await s?.stop();
});

it('a user follows the batch link, signs in, reads a live log, queries and cancels', async () => {
  const logBatch = await submit('ui-logs', ['echo started; sleep 20; echo finished']);
  const longBatch = await submit('ui-cancel', ['sleep 120', 'sleep 120']);
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();

  await page.goto(`${s.url}/batches/${logBatch}`);
  await shot(page, 'login');
  await signIn(page, `${s.url}/batches/${logBatch}`, s.token);
  expect(new URL(page.url()).pathname).toBe(`/batches/${logBatch}`);
  await page.waitForSelector('tr[data-job-id="1"]');
  await shot(page, 'batch');

  await page.click('tr[data-job-id="1"] a');
  await page.waitForSelector('#log-main');
  // Live: the first line appears while the job still runs, the last once it has finished.
  await page.locator('#log-main', { hasText: 'started' }).waitFor({ timeout: 60_000 });
  expect(await page.textContent('#log-main')).not.toContain('finished');
  await shot(page, 'job-running');
  await page.locator('#log-main', { hasText: 'finished' }).waitFor({ timeout: 60_000 });
  await page.locator('#job-state', { hasText: 'Success' }).waitFor({ timeout: 30_000 });
  await page.reload();
  expect(await page.textContent('#log-main')).toContain('finished');
  await page.waitForSelector('#usage .uplot', { timeout: 15_000 });
  await shot(page, 'job');

  await page.goto(`${s.url}/batches`);
  await page.waitForSelector(`tr[data-batch-id="${logBatch}"]`);
  await page.waitForSelector(`tr[data-batch-id="${longBatch}"]`);
  await shot(page, 'batches');
  await page.fill('textarea[name=q]', 'name = ui-cancel');
  await page.click('form[action="/batches"] button[type=submit]');
  await page.waitForSelector(`tr[data-batch-id="${longBatch}"]`);
  expect(await page.$(`tr[data-batch-id="${logBatch}"]`)).toBeNull();

  await page.click(`tr[data-batch-id="${longBatch}"] form[action$="/cancel"] button`);
  await page.waitForSelector(`tr[data-batch-id="${longBatch}"] .badge`);
  for (let i = 0; i < 60; i++) {
    if ((await page.textContent(`tr[data-batch-id="${longBatch}"] .badge`)) === 'cancelled') break;
    await page.waitForTimeout(500);
    await page.reload();
  }
  expect(await page.textContent(`tr[data-batch-id="${longBatch}"] .badge`)).toBe('cancelled');
  await shot(page, 'batches-cancelled');

  await page.goto(`${s.url}/billing`);
  await page.waitForSelector('#billing-plot .uplot');
  await shot(page, 'billing');
});

it('a user walks down the job-group tree to a nested group and sees only its jobs', async () => {
  const res = await s.api('/api/v1alpha/batches/create-fast', {
    method: 'POST',
    json: {
      batch: { billing_project: s.billingProject, n_jobs: 3, n_job_groups: 3, token: `ui-groups-${Date.now()}`, attributes: { name: 'ui-groups' } },
      job_groups: [
        { job_group_id: 1, in_update_parent_id: 0, attributes: { name: 'analysis' } },
        { job_group_id: 2, in_update_parent_id: 1, attributes: { name: 'chromosome-1' } },
        { job_group_id: 3, in_update_parent_id: 1, attributes: { name: 'chromosome-2' } },
      ],
      bunch: [
        job(1, ['true'], { in_update_job_group_id: 2, attributes: { name: 'chr1-a' } }),
        job(2, ['sh', '-c', 'exit 3'], { in_update_job_group_id: 2, attributes: { name: 'chr1-b' } }),
        job(3, ['true'], { in_update_job_group_id: 3, attributes: { name: 'chr2-a' } }),
      ],
    },
  });
  expect(res.status).toBe(200);
  const id = ((await res.json()) as { id: number }).id;
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
  await signIn(page, `${s.url}/batches/${id}`, s.token);
  await waitFor('the batch to complete', async () => (await (await s.api(`/api/v1alpha/batches/${id}`)).json() as { complete: boolean }).complete, 120_000, 500);
  await page.goto(`${s.url}/batches/${id}`);
  await page.click('#job-groups [data-job-group="1"] a');
  await page.waitForSelector('#job-groups [data-job-group="3"]');
  await page.click('#job-groups [data-job-group="2"] a');
  await page.waitForSelector('#job-groups [data-job-group="2"] strong');
  // The path stays in view: batch, analysis, chromosome-1; only chromosome-1's jobs are listed.
  expect(await page.textContent('#job-groups')).toContain('analysis');
  expect(await page.$$eval('tr[data-job-id]', (rows) => rows.map((r) => r.getAttribute('data-job-id')))).toEqual(['1', '2']);
  expect(await page.textContent('#job-groups [data-job-group="2"]')).toContain('1 failed');
  await shot(page, 'job-groups');
});

it('an admin sets max instances of the standard pool to 5', async () => {
  const page = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
  await signIn(page, `${s.url}/admin/pools`, opsToken);
  await page.waitForSelector('#pool-standard');
  await page.fill('#pool-standard input[name=max_live_instances]', '5');
  await page.fill('#pool-standard input[name=max_instances]', '5');
  await page.click('#pool-standard button[type=submit]');
  await page.waitForSelector('.notice');
  expect(await page.inputValue('#pool-standard input[name=max_instances]')).toBe('5');
  expect((await getPool(s.database.db, 'standard'))!.config.max_instances).toBe(5);
  await shot(page, 'pools');
  // The driver's rate limit, from the same page.
  await page.fill('#rate-limit-standard input[name=jobs_per_second]', '4');
  await page.click('#rate-limit-standard button[type=submit]');
  await page.waitForSelector('.notice');
  await waitFor('the limit to show', async () => {
    await page.reload();
    return (await page.textContent('#rate-limit-standard td.num'))?.trim() === '4';
  }, 30_000, 500);
  await page.fill('#rate-limit-standard input[name=jobs_per_second]', '');
  await page.click('#rate-limit-standard button[type=submit]');
  await page.waitForSelector('.notice');
  await page.goto(`${s.url}/clusters`);
  await page.waitForSelector('#clusters');
  await shot(page, 'clusters');
  await page.goto(`${s.url}/admin/instances`);
  await page.waitForSelector('#instances tbody tr');
  await shot(page, 'instances');
  await page.goto(`${s.url}/admin/users`);
  await shot(page, 'users');
});
