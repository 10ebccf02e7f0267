/** `lifeboat snapshot`: stream a data directory to the store and commit it to the catalog. */
import type { Command } from 'commander';
import ms from 'ms';
import { recentSnapshot } from '../../lambdas/agent/min-interval.js';
import { ENV } from '../../lambdas/contract/environment.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { assertJobId } from '../../lambdas/domain/snapshot-jobs.js';
import { takeSnapshot } from '../../lambdas/engine/snapshot.js';
import { type CliIO, cliRuntime, dataDir, openCatalog, openObjectStore, serviceName } from './context.js';
import { type CommandResult, durationMs, positiveNumber } from './options.js';
import { formatBytes, formatDuration, progressBar, say } from './output.js';

interface SnapshotFlags {
  service?: string;
  dir?: string;
  reason: string;
  pre?: string;
  post?: string;
  hookTimeout: number;
  term?: number;
  sourceTask?: string;
  minInterval?: number;
  readAll?: boolean;
  job?: string;
  table?: string;
  store?: string;
  json?: boolean;
}

export function registerSnapshot(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  program
    .command('snapshot')
    .description('snapshot a data directory into the store and record it in the catalog; prints the snapshot id')
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--dir <path>', 'data directory to snapshot (env LIFEBOAT_DIR)')
    .option('--reason <text>', 'why the snapshot was taken (schedule, hook, manual, ...)', 'manual')
    .option('--pre <command>', 'shell command run first (e.g. a database checkpoint); the snapshot aborts if it fails')
    .option('--post <command>', 'shell command run afterwards, whatever the outcome (LIFEBOAT_SNAPSHOT_STATUS tells it)')
    .option('--hook-timeout <seconds>', 'time limit for each hook', positiveNumber('--hook-timeout'), 600)
    .option('--term <n>', "writer's fencing term (set by the agent)", positiveNumber('--term'))
    .option('--source-task <id>', 'task that took the snapshot (env LIFEBOAT_TASK)')
    .option('--job <id>', 'the snapshot job this snapshot is for (a dump task; env LIFEBOAT_JOB_ID): recorded on the job')
    .option('--read-all', 'read every file, even those unchanged (size, mtime, ctime, inode) since the previous snapshot')
    .option(
      '--min-interval <duration>',
      'skip (exit 0) when a complete snapshot is younger than this, e.g. 10m (debounce for hooks)',
      durationMs('--min-interval'),
    )
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--json', 'print one JSON document instead of the id')
    .action(async (flags: SnapshotFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
      const dir = dataDir(flags.dir, io.env);
      const catalog = openCatalog(flags, io);
      const store = openObjectStore(flags, io);
      if (flags.minInterval !== undefined) {
        const now = new Date();
        const recent = await recentSnapshot(catalog, service, flags.minInterval, now);
        if (recent) {
          const ageMs = Math.max(0, now.getTime() - Date.parse(recent.createdAt));
          if (flags.json) {
            const doc = {
              status: 'skipped',
              reason: 'min-interval',
              service,
              recentSnapshot: recent.id,
              recentSnapshotCreatedAt: recent.createdAt,
              ageMs,
              minIntervalMs: flags.minInterval,
            };
            io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
          }
          say(io, `skipped: snapshot ${recent.id} of ${service} is ${ms(ageMs)} old, younger than --min-interval ${ms(flags.minInterval)}`);
          return;
        }
      }
      const bar = progressBar(io, true);
      let result;
      try {
        result = await takeSnapshot({
          catalog,
          store,
          service,
          dir,
          reason: flags.reason,
          pre: flags.pre,
          post: flags.post,
          hookTimeoutMs: flags.hookTimeout * 1000,
          term: flags.term,
          sourceTask: flags.sourceTask ?? io.env[ENV.task],
          readAll: flags.readAll,
          signal: io.signal,
          onProgress: (p) => p.phase === 'upload' && bar.update(p.bytesDone, p.bytesTotal, 'snapshot'),
          onNotice: (line) => say(io, line),
        });
      } finally {
        bar.stop();
      }
      const r = result.record;
      if (flags.json) {
        io.stdout.write(
          `${JSON.stringify(
            {
              id: r.id,
              service: r.service,
              status: r.status,
              createdAt: r.createdAt,
              completedAt: r.completedAt,
              files: r.fileCount,
              entries: r.entryCount,
              parts: r.partCount,
              dataBytes: r.dataSize,
              storedBytes: r.size,
              manifestKey: r.manifestKey,
              manifestSha256: r.manifestSha256,
              store: store.url,
              durationMs: result.durationMs,
              warnings: result.warnings,
              postHookError: result.postHookError?.message,
            },
            null,
            2,
          )}\n`,
        );
      } else {
        io.stdout.write(`${r.id}\n`);
      }
      say(
        io,
        `snapshot ${r.id} of ${service} complete: ${r.fileCount} files, ${formatBytes(r.dataSize)} stored as ${formatBytes(r.size)} in ${formatDuration(result.durationMs)}` +
          (result.warnings.length ? ` (${result.warnings.length} warning${result.warnings.length > 1 ? 's' : ''})` : ''),
      );
      const jobId = flags.job ?? io.env.LIFEBOAT_JOB_ID;
      if (jobId) {
        // The dump task's STOPPED event decides the job; this tells it which snapshot it made.
        const linked = await cliRuntime(flags, io).jobs.linkSnapshot(service, assertJobId(jobId), r.id);
        say(io, linked ? `recorded on snapshot job ${jobId}` : `snapshot job ${jobId} was already decided; not recorded on it`);
      }
      if (result.postHookError) {
        say(io, `lifeboat: error: ${result.postHookError.message}`);
        done({ exitCode: 1 });
      }
    });
}
