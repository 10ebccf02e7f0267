/**
 * `npm run bench:console [-- --rounds N] [-- --snapshots N]`: the web console's first
 * paint against local mode (ephemeral, the example service) with N catalog entries
 * (default 1,000; target: first paint < 1 s). Each round opens the page in a fresh tab of
 * a headless Chromium (Debian's, driven by playwright-core; started and stopped as the
 * browser tests do) and reports: first contentful paint, the load event, when the snapshot
 * table is drawn (the first /console/api/state answered and rendered), and the state API
 * alone. Results: docs/PERFORMANCE.md.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoClient } from '../lambdas/adapters/aws.js';
import { snapshotKey } from '../lambdas/contract/keys.js';
import { makeSnapshotId } from '../lambdas/domain/ids.js';
import { serveLocalApi } from '../lambdas/local/api.js';
import { LocalMode } from '../lambdas/local/local-mode.js';
import { until } from '../lambdas/local/scenario.js';
import { launchBrowser } from '../test/support/browser.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const rounds = flag('--rounds', 5);
const snapshots = flag('--snapshots', 1000);
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(0)} ms, median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms`;
};

/** The console caches its state for 1 s (server.ts); a bench pause, not a test's. */
const cacheExpiry = () => new Promise((r) => setTimeout(r, 1100));

const mode = await LocalMode.start({ repoRoot: join(dirname(fileURLToPath(import.meta.url)), '..'), ephemeral: true, speed: 1 });
const api = await serveLocalApi(mode);
mode.setApiUrl(api.url, api.close);
const browser = await launchBrowser();
try {
  await until('a primary', async () => (await mode.status()).lease, 120_000);
  // The catalog entries, as the snapshot engine writes them (no objects: the page reads only the table).
  const client = createDynamoClient(mode.environment);
  const base = Date.now() - snapshots * 3_600_000;
  const items = Array.from({ length: snapshots }, (_, i) => {
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
      reason: 'bench',
      size: 4096 + i,
      dataSize: 8192,
      fileCount: 12,
      term: 1,
    };
  });
  for (let i = 0; i < items.length; i += 25) {
    await client.send(new BatchWriteCommand({ RequestItems: { [mode.table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
  }
  console.log(
    `conditions: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, Node ${process.version}, ${snapshots.toLocaleString('en')} catalog entries, ${rounds} rounds (+1 warm-up)`,
  );
  const url = `${api.url}/`;
  const fcp: number[] = [];
  const load: number[] = [];
  const table: number[] = [];
  const state: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    // The server caches the state for 1 s: wait that out, so each measurement reads the table.
    await cacheExpiry();
    const t0 = Date.now();
    const res = await fetch(`${url}console/api/state`);
    await res.arrayBuffer();
    const stateMs = Date.now() - t0;
    await cacheExpiry();
    const page = await browser.context.newPage();
    const t1 = Date.now();
    await page.goto(url);
    await page.locator('[data-test=snapshot-row]').first().waitFor({ timeout: 120_000 });
    const tableMs = Date.now() - t1;
    const paint = await page.evaluate(() => {
      const p = performance.getEntriesByName('first-contentful-paint')[0];
      const nav = performance.getEntriesByType('navigation' as never)[0] as unknown as { loadEventEnd: number } | undefined;
      return { fcp: p?.startTime ?? Number.NaN, load: nav?.loadEventEnd ?? Number.NaN };
    });
    await page.close();
    console.log(
      `round ${r}${r === 0 ? ' (warm-up)' : ''}: first contentful paint ${paint.fcp.toFixed(0)} ms, load ${paint.load.toFixed(0)} ms, snapshot table ${tableMs} ms, state API alone ${stateMs} ms`,
    );
    if (r === 0) continue;
    fcp.push(paint.fcp);
    load.push(paint.load);
    table.push(tableMs);
    state.push(stateMs);
  }
  console.log(`first contentful paint  ${stats(fcp)}${Math.max(...fcp) < 1000 ? '  ✓ < 1 s' : '  ✗ not under 1 s'}`);
  console.log(`load event              ${stats(load)}`);
  console.log(`snapshot table drawn    ${stats(table)}`);
  console.log(`state API alone         ${stats(state)}`);
} finally {
  await browser.close();
  await mode.stop();
}
