/**
 * The web console in a real headless browser, against local mode started here: the page
 * loads and shows the primary; "Kill primary" (through its confirmation) changes the
 * primary on the page within the failover timeout plus a few seconds; "Drill now" makes a
 * drill appear with its charts; a kept drill (`--keep`) shows its port and is stopped by the
 * drill watchdog; first paint with 1,000 snapshots in the catalog is timed; screenshots are
 * saved to test-artifacts/ (gitignored). Chromium is started by the test (its own process
 * group, a DevTools port the kernel picks) and stopped by its PID: test/support/browser.ts.
 *
 * One local mode and one browser for the whole file, to keep its time modest.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { snapshotKey } from '../../lambdas/contract/keys.js';
import { makeSnapshotId } from '../../lambdas/domain/ids.js';
import { serveLocalApi } from '../../lambdas/local/api.js';
import { LocalMode } from '../../lambdas/local/local-mode.js';
import { groupAlive, launchBrowser, type TestBrowser } from '../support/browser.js';
import { waitFor } from '../support/cli.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const artifacts = join(repoRoot, 'test-artifacts');

let mode: LocalMode;
let url: string;
let browser: TestBrowser | undefined;
let page: Page;

const primaryOnPage = async () => (await page.locator('[data-test=primary]').first().textContent())?.trim();
const leaseHolder = async () => (await mode.status()).lease;

/**
 * Resolves once the service has a complete snapshot. While it has none, it follows
 * `jobId` (or its own job) and asks for another snapshot when that one ends without one:
 * a job fails when the primary changes under it, which a loaded machine makes happen.
 */
async function aCompleteSnapshot(jobId?: string): Promise<void> {
  let job = jobId;
  const seen: string[] = [];
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (await mode.runtime.catalog.latest(mode.service)) return;
    const record = job ? await mode.snapshotJob(job) : undefined;
    if (!job || (record && record.status !== 'requested')) {
      if (record) seen.push(`${record.jobId}: ${record.status}${record.reason ? ` (${record.reason})` : ''}`);
      job = (await mode.requestSnapshot()).job.jobId;
    }
    if (Date.now() > deadline) throw new Error(`no complete snapshot within 300 s:\n${seen.join('\n')}`);
    await new Promise((r) => setTimeout(r, 250)); // poll interval
  }
}

beforeAll(async () => {
  await mkdir(artifacts, { recursive: true });
  mode = await LocalMode.start({
    repoRoot,
    ephemeral: true,
    services: { env: inject('awsEnv') },
    table: `lifeboat-console-${randomBytes(4).toString('hex')}`,
    reportsDir: join(artifacts, 'reports'),
  });
  const api = await serveLocalApi(mode);
  mode.setApiUrl(api.url, api.close);
  url = `${api.url}/`;
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.setDefaultTimeout(30_000);
}, 180_000);

afterAll(async () => {
  const pid = browser?.pid;
  await browser?.close();
  await mode?.stop();
  // Chromium was stopped by its PID, with every process of its group.
  if (pid !== undefined) expect(groupAlive(pid)).toBe(false);
}, 60_000);

describe('the web console in headless Chromium, against local mode', () => {
  it('loads from the local API port, with no request to anywhere else, and shows the primary', async () => {
    await waitFor(leaseHolder, 'a primary', 90_000);
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(url)) foreign.push(r.url());
    });
    await page.goto(url);
    // The page follows the lease (on a loaded machine a missed heartbeat can move it meanwhile).
    await expect
      .poll(async () => ((await primaryOnPage()) === (await leaseHolder())?.holder.split('/').pop()?.slice(0, 12) ? 'same' : 'differs'), {
        timeout: 20_000,
        interval: 250,
      })
      .toBe('same');
    expect(await page.locator('section[data-service=kv] h2').textContent()).toContain('kv');
    expect(await page.locator('#access').textContent()).toBe('actions enabled');
    expect(await page.locator('[data-test=member]').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('[data-test=term]').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('[data-test=schedule]').count()).toBeGreaterThanOrEqual(3);
    expect(foreign).toEqual([]);
  }, 240_000);

  it('"Kill primary", once confirmed, changes the primary on the page within the failover timeout plus a few seconds', async () => {
    await page.locator('section[data-service=kv] button[data-action=kill-primary]').click();
    expect(await page.locator('#confirm').isVisible()).toBe(true);
    expect(await page.locator('#confirm-title').textContent()).toBe('Kill primary?');
    // Cancel sends nothing.
    const posts: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST') posts.push(r.url());
    });
    await page.locator('#confirm-cancel').click();
    expect(await page.locator('#confirm').isVisible()).toBe(false);
    expect(posts).toEqual([]);
    await page.locator('section[data-service=kv] button[data-action=kill-primary]').click();
    const before = await primaryOnPage();
    expect(before).toMatch(/^[0-9a-f]{12}$/);
    const t0 = Date.now();
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`${url}console/api/actions/kill-primary`)),
      page.locator('#confirm-ok').click(),
    ]);
    const body = (await answer.json()) as { message?: string; error?: string };
    expect(body.message, body.error).toMatch(/killed the primary, task [0-9a-f]{8}/);
    // The page says so.
    await expect.poll(async () => page.locator('#toast').textContent(), { timeout: 10_000 }).toContain(body.message);
    const timeoutMs = mode.servicePolicy.failover.timeoutSeconds * 1000;
    await expect
      .poll(
        async () => {
          const p = await primaryOnPage();
          return p !== before && /^[0-9a-f]{12}$/.test(p ?? '') ? 'changed' : p;
        },
        { timeout: timeoutMs + 15_000, interval: 100 },
      )
      .toBe('changed');
    const changedMs = Date.now() - t0;
    console.log(`console: primary changed on the page ${changedMs} ms after the kill (failover timeout ${timeoutMs} ms)`);
    expect(changedMs).toBeLessThan(timeoutMs + 15_000);
    expect(posts).toEqual([`${url}console/api/actions/kill-primary?service=kv`]);
    // The timeline shows the new term and why it began.
    await expect.poll(async () => page.locator('[data-test=term]').first().textContent(), { timeout: 10_000 }).toMatch(/failover: the term \d+ primary/);
  }, 90_000);

  it('"Drill now" makes a drill appear, with its result and the RTO and RPO charts', async () => {
    // "Snapshot now", through its confirmation: the action's answer names the job, and the
    // page shows it. Whether that job completes depends on the primary staying put (on a
    // loaded machine leases lapse and the primary moves), so what the drill needs is any
    // complete snapshot: this one, the schedule's, or one asked for again below.
    await waitFor(leaseHolder, 'a primary', 60_000);
    await page.locator('section[data-service=kv] button[data-action=snapshot]').click();
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`${url}console/api/actions/snapshot`)),
      page.locator('#confirm-ok').click(),
    ]);
    const body = (await answer.json()) as { message?: string; error?: string; detail?: { outcome: string; jobId: string } };
    expect(body.message, body.error).toMatch(/^snapshot job job-\S+ (requested|failed)/);
    await expect.poll(async () => page.locator('#toast').textContent(), { timeout: 10_000 }).toContain(body.message);
    await aCompleteSnapshot(body.detail!.jobId);
    await page.locator('section[data-service=kv] button[data-action=drill]').click();
    await page.locator('#confirm-ok').click();
    await page.locator('[data-test=drill-row]').first().waitFor({ timeout: 15_000 });
    await expect
      .poll(async () => page.locator('[data-test=drill-row]').first().textContent(), { timeout: 120_000, interval: 500 })
      .toMatch(/proven restorable|failed|over target|could not run|timed out/);
    const charts = page.locator('[data-test=drills] svg.chart');
    expect(await charts.count()).toBe(2);
    expect(await charts.nth(0).getAttribute('aria-label')).toMatch(/RTO/);
    expect(await charts.nth(1).locator('circle.dot, path.miss').count()).toBeGreaterThanOrEqual(1);
    await page.screenshot({ path: join(artifacts, 'console.png'), fullPage: true });
  }, 420_000);

  it('a kept drill (drill --keep) shows its verdict while its task stays up, with its port; the drill watchdog stops it after the window', async () => {
    await aCompleteSnapshot();
    const answer = await fetch(`${url}drill?keep=15s`, { method: 'POST' });
    const started = (await answer.json()) as { drillId: string; taskArn?: string; port?: number; keep?: { seconds: number }; error?: string };
    expect(answer.status, started.error).toBe(200);
    expect(started.keep).toEqual({ seconds: 15 });
    expect(started.port).toBeGreaterThan(0);
    const taskArn = started.taskArn!;
    // The verdict comes from the agent while the task runs on.
    const verdict = await waitFor(
      async () => {
        const d = await mode.runtime.drills.get(mode.service, started.drillId);
        return d && d.status !== 'running' ? d : undefined;
      },
      `the verdict of kept drill ${started.drillId}`,
      180_000,
    );
    expect(verdict).toMatchObject({ finishedBy: 'agent', keep: { seconds: 15, until: expect.any(String) } });
    expect(mode.tasks().find((t) => t.taskArn === taskArn)?.lastStatus).toBe('RUNNING');
    // The page marks it kept and says where its application answers.
    const row = page.locator('[data-test=drill-row]', { hasText: started.drillId });
    await expect.poll(async () => row.locator('[data-test=kept]').textContent(), { timeout: 15_000 }).toContain(`port ${started.port}`);
    // Once the window is over, the drill watchdog stops the task, once.
    const stopped = await waitFor(
      async () => {
        if (Date.now() < Date.parse(verdict.keep!.until!)) return undefined;
        await mode.runSchedule('drill-watchdog');
        const d = await mode.runtime.drills.get(mode.service, started.drillId);
        return d?.keep?.stoppedAt ? d : undefined;
      },
      `the drill watchdog to stop kept drill ${started.drillId}`,
      60_000,
    );
    expect(Date.parse(stopped.keep!.stoppedAt!)).toBeGreaterThanOrEqual(Date.parse(verdict.keep!.until!));
    await waitFor(
      async () => (mode.tasks().find((t) => t.taskArn === taskArn)?.lastStatus ?? 'STOPPED') === 'STOPPED' || undefined,
      'the kept task to stop',
      60_000,
    );
    await expect.poll(async () => row.locator('[data-test=kept]').textContent(), { timeout: 15_000 }).toContain('stopped');
  }, 300_000);

  it('first paint with 1,000 snapshots in the catalog is under 1 s; the snapshot table follows', async () => {
    // Last in the file: a thousand snapshots make every later state read (and the retention
    // plan the console refreshes in the background) slower. At speed 1 the hourly retention
    // schedule does not fire during this file, so these stay.
    const client = createDynamoClient(mode.environment);
    const base = Date.now() - 60 * 86_400_000;
    const items = Array.from({ length: 1000 }, (_, i) => {
      const at = new Date(base + i * 3_600_000);
      const id = makeSnapshotId(at, randomBytes(4));
      return {
        ...snapshotKey(mode.service, id),
        type: 'snapshot',
        service: mode.service,
        status: 'complete',
        createdAt: at.toISOString(),
        completedAt: at.toISOString(),
        manifestKey: `kv/snapshots/${id}/manifest.json.gz`,
        reason: 'fixture',
        size: 4096 + i,
        dataSize: 8192,
        fileCount: 12,
        term: 1,
      };
    });
    const tw = Date.now();
    for (let i = 0; i < items.length; i += 25) {
      await client.send(new BatchWriteCommand({ RequestItems: { [mode.table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
    }
    const writeMs = Date.now() - tw;
    // The open pages of the earlier tests keep the state API's 1 s cache warm: wait until it
    // has seen the new snapshots, so the page below cannot be served the state from before.
    await waitFor(
      async () => {
        const state = (await (await fetch(`${url}console/api/state`)).json()) as { services?: { snapshots?: { total?: number } }[] };
        return (state.services ?? []).some((x) => (x.snapshots?.total ?? 0) >= 1000) || undefined;
      },
      'the state API to count the 1,000 snapshots',
      30_000,
    );
    // The state API alone, as the page's first request sees it (the cache is 1 s).
    const ts = Date.now();
    expect((await fetch(`${url}console/api/state`)).status).toBe(200);
    const stateMs = Date.now() - ts;
    const fresh = await browser!.context.newPage();
    const t0 = Date.now();
    await fresh.goto(url);
    await fresh.locator('[data-test=snapshot-row]').first().waitFor({ timeout: 60_000 });
    const shownMs = Date.now() - t0;
    const heading = await fresh.locator('[data-test=snapshots] h3').textContent();
    expect(Number(/of (\d+)/.exec(heading ?? '')?.[1]), `heading: ${heading}`).toBeGreaterThanOrEqual(1000);
    const paint = await fresh.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const nav = performance.getEntriesByType('navigation' as never)[0] as unknown as { loadEventEnd: number } | undefined;
      return { fcp: fcp?.startTime, load: nav?.loadEventEnd };
    });
    console.log(
      `console with ${heading}: first contentful paint ${paint.fcp?.toFixed(0)} ms, load ${paint.load?.toFixed(0)} ms, snapshot table shown ${shownMs} ms after navigation; state API alone ${stateMs} ms; 1,000 catalog writes ${writeMs} ms`,
    );
    // The target is 1 s (docs/PERFORMANCE.md has the measurements); a shared CI machine gets slack.
    expect(paint.fcp).toBeLessThan(5000);
    await fresh.screenshot({ path: join(artifacts, 'console-1000-snapshots.png'), fullPage: false });
    await fresh.close();
  }, 240_000);
});
