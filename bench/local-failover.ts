/**
 * `npm run bench:local [-- --rounds N]`: in local mode (ephemeral, the example service,
 * failover timeout 3 s), kill the primary N times and measure, as a client through
 * discovery's front sees it, the time from the kill to (a) a new term in the table and
 * (b) the new primary serving a read of the data and a write. Between rounds the service
 * is back to three live members. Results: docs/PERFORMANCE.md.
 */
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalMode } from '../lambdas/local/local-mode.js';
import { killPrimaryAndWaitForService, until } from '../lambdas/local/scenario.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 5) || 5;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const mode = await LocalMode.start({ repoRoot: join(dirname(fileURLToPath(import.meta.url)), '..'), ephemeral: true, speed: 1 });
try {
  console.log(
    `conditions: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(
        ' ',
      )}, Node ${process.version}, ${rounds} rounds, failover timeout ${mode.servicePolicy.failover.timeoutSeconds} s, heartbeat ${mode.servicePolicy.failover.heartbeatSeconds} s`,
  );
  const front = mode.serviceUrl!;
  const elections: number[] = [];
  const serving: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Three live members and a primary that takes writes, then a snapshot holding the key.
    await until(
      'three live members and a primary',
      async () => {
        const s = await mode.status();
        return s.lease && s.members.filter((m) => m.role === 'primary' || m.role === 'replica').length === 3 ? s : undefined;
      },
      60_000,
    );
    await until('a write', async () => ((await fetch(`${front}/kv/bench`, { method: 'PUT', body: String(i) })).status === 200 ? true : undefined), 60_000);
    const job = await mode.requestSnapshot();
    await until('the snapshot', async () => ((await mode.snapshotJob(job.job.jobId))?.status === 'complete' ? true : undefined), 60_000);
    const r = await killPrimaryAndWaitForService(mode, 'bench');
    elections.push(r.electionMs);
    serving.push(r.servingMs);
    console.log(`round ${i + 1}: elected ${r.electionMs} ms, serving ${r.servingMs} ms after the kill`);
  }
  console.log(`kill → new term:  median ${pct(elections, 50)} ms, max ${Math.max(...elections)} ms`);
  console.log(`kill → serving:   median ${pct(serving, 50)} ms, max ${Math.max(...serving)} ms`);
} finally {
  await mode.stop();
}
