/**
 * Runs one restore in a child process, for what a test cannot do in its own worker: measure
 * the restore's peak memory, and kill it (SIGKILL, no cleanup) at a placement step.
 *
 *   node --import tsx test/support/restore-child.ts '<json RestoreChildArgs>'
 *
 * Prints one JSON line (RestoreChildOutput) unless killed. Uses DynamoDB Local through the
 * standard SDK variables it inherits, and a directory store.
 */
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoSnapshotCatalog } from '../../lambdas/adapters/catalog.js';
import { DirectoryStore } from '../../lambdas/adapters/stores/directory-store.js';
import { isLifeboatError } from '../../lambdas/domain/errors.js';
import { type RestoreOptions, restoreSnapshot } from '../../lambdas/engine/restore.js';

export interface RestoreChildArgs {
  table: string;
  storeDir: string;
  service: string;
  dir: string;
  snapshot?: string;
  force?: boolean;
  ifEmpty?: boolean;
  placement?: RestoreOptions['placement'];
  /** SIGKILL this process when the restore reaches this placement step. */
  killAt?: string;
}

export interface RestoreChildOutput {
  result?: { status: string; reason?: string };
  error?: { name: string; message: string; exitCode?: number };
  /** Peak resident set size before the restore started and at the end (bytes). */
  rssBeforeBytes: number;
  rssPeakBytes: number;
}

const args = JSON.parse(process.argv[2]!) as RestoreChildArgs;
const catalog = new DynamoSnapshotCatalog(createDynamoClient(), args.table);
const store = new DirectoryStore(args.storeDir);
// Warm up the SDK and the table before measuring: their memory is not the restore's.
await catalog.check();
const rssBeforeBytes = process.resourceUsage().maxRSS * 1024;
const out: RestoreChildOutput = { rssBeforeBytes, rssPeakBytes: 0 };
try {
  const r = await restoreSnapshot({
    catalog,
    store,
    service: args.service,
    dir: args.dir,
    ...(args.snapshot ? { snapshot: args.snapshot } : {}),
    ...(args.force ? { force: true } : {}),
    ...(args.ifEmpty ? { ifEmpty: true } : {}),
    ...(args.placement ? { placement: args.placement } : {}),
    onStep: (step) => {
      if (step === args.killAt) process.kill(process.pid, 'SIGKILL');
    },
  });
  out.result = { status: r.status, ...(r.status === 'skipped' ? { reason: r.reason } : {}) };
} catch (err) {
  const e = err as Error;
  out.error = { name: e.name, message: e.message, ...(isLifeboatError(err) ? { exitCode: err.exitCode } : {}) };
}
out.rssPeakBytes = process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify(out)}\n`);
