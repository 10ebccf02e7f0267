/**
 * `npm run demo`: local mode, ephemeral and with schedules 60× faster, driven through the
 * whole scenario (lambdas/local/scenario.ts) — write, snapshot, kill the primary, fail
 * over, prune, drill, damage a snapshot, drill again, reports — with every step checked.
 * Exits 0 when every check passed, 1 otherwise; stops everything it started either way
 * (also on Ctrl-C).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalMode } from '../lambdas/local/local-mode.js';
import { runScenario } from '../lambdas/local/scenario.js';
import { activityLine } from '../lambdas/local/status-view.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const verbose = process.argv.includes('--verbose');
// --example kv|postgres|sqlite (lambdas/local/examples.ts): which service the scenario drives.
const exampleArg = process.argv.indexOf('--example');
const example = exampleArg === -1 ? undefined : process.argv[exampleArg + 1];
const bold = (s: string) => (process.stdout.isTTY && !process.env.CI ? `\x1b[1m${s}\x1b[0m` : s);

async function main(): Promise<number> {
  const started = Date.now();
  console.log(bold(`Lifeboat local mode demo: the control plane, three tasks of the ${example ?? 'kv'} example service, schedules ×60`));
  let mode: LocalMode | undefined;
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    console.error('\ninterrupted: stopping everything');
    void mode?.stop();
  };
  process.on('SIGINT', onSigint);
  try {
    mode = await LocalMode.start({
      repoRoot: join(dirname(fileURLToPath(import.meta.url)), '..'),
      ephemeral: true,
      speed: 60,
      example,
      say: (line) => console.log(`  ${line}`),
      onActivity: (a) => {
        if (verbose) console.log(`    · ${activityLine(a)}`);
      },
    });
    const r = await runScenario(mode, { log: (line) => console.log(line.startsWith('\n==') ? bold(line) : `  ${line}`) });
    console.log(
      `\n${bold('All checks passed')} in ${((Date.now() - started) / 1000).toFixed(1)} s (scenario ${(r.totalMs / 1000).toFixed(1)} s): ` +
        `failover elected a new primary ${(r.failover.electionMs / 1000).toFixed(1)} s and served the data ${(r.failover.servingMs / 1000).toFixed(1)} s after the kill ` +
        `(failover timeout ${r.failover.timeoutSeconds} s); ${r.writes.inSnapshotSurvived}/${r.writes.inSnapshot} acknowledged writes in the snapshot survived; ` +
        `retention pruned ${r.retention.pruned.length}; drill passed, drill of the damaged snapshot failed. Next: \`npm start\` to play with it.`,
    );
    return 0;
  } catch (err) {
    console.error(`\n${interrupted ? 'demo interrupted' : 'DEMO FAILED'}: ${(err as Error).message}`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
    console.log('  stopping everything the demo started');
    await mode?.stop();
  }
}

process.exitCode = await main();
