/** `lifeboat restore`: rebuild a data directory from a snapshot, verified, all at once. */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { ENV } from '../../lambdas/contract/environment.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { restoreSnapshot } from '../../lambdas/engine/restore.js';
import { resolveAt } from './at.js';
import { type CliIO, dataDir, openCatalog, openHolds, openObjectStore, serviceName } from './context.js';
import { type CommandResult, positiveNumber } from './options.js';
import { formatBytes, formatDuration, progressBar, say } from './output.js';

interface RestoreFlags {
  service?: string;
  dir?: string;
  snapshot: string;
  at?: string;
  tz?: string;
  ifEmpty?: boolean;
  force?: boolean;
  delta?: boolean;
  checksum?: boolean;
  concurrency?: number;
  table?: string;
  store?: string;
  json?: boolean;
}

export function registerRestore(program: Command, io: CliIO, _done: (r: CommandResult) => void): void {
  program
    .command('restore')
    .description('restore a snapshot into a directory; every checksum is verified before anything is put in place')
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--dir <path>', 'directory to restore into (env LIFEBOAT_DIR)')
    .option('--snapshot <id>', 'snapshot id, "latest" or "latest-verified"', 'latest')
    .option('--at <time>', 'the newest complete snapshot taken at or before TIME: ISO time, 2h, 1h30m, yesterday 18:00 (see --tz)')
    .option('--tz <zone>', "IANA time zone of --at times without an offset (default: this machine's)")
    .option('--if-empty', 'restore only into a missing or empty directory; otherwise do nothing and exit 0 (restore-on-start)')
    .option('--force', 'replace the contents of a non-empty directory')
    .option('--delta', 'update a directory holding an older version in place: rewrite only files that differ, delete extras (v2 snapshots)')
    .option('--checksum', 'with --delta: compare existing files by SHA-256 instead of size and mtime')
    .option('--concurrency <n>', 'pack ranges (v2) or archive parts (v1) downloaded at once', positiveNumber('--concurrency'))
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--json', 'print one JSON document')
    .action(async (flags: RestoreFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
      const dir = dataDir(flags.dir, io.env);
      const catalog = openCatalog(flags, io);
      const store = openObjectStore(flags, io);
      const pointInTime = await resolveAt(io, catalog, service, flags);
      const bar = progressBar(io, true);
      let result;
      try {
        result = await restoreSnapshot({
          catalog,
          store,
          service,
          dir,
          snapshot: pointInTime?.snapshotId ?? flags.snapshot,
          ifEmpty: flags.ifEmpty,
          force: flags.force,
          delta: flags.delta,
          checksum: flags.checksum,
          concurrency: flags.concurrency,
          // Retention does not delete a snapshot while this restore reads it.
          use: { holds: openHolds(flags, io), holder: io.env[ENV.task] ?? `${hostname()}:${process.pid}` },
          signal: io.signal,
          onProgress: (p) => bar.update(p.bytesDone, p.bytesTotal, 'restore'),
          onNotice: (line) => say(io, line),
        });
      } finally {
        bar.stop();
      }
      if (flags.json) {
        const doc =
          result.status === 'restored'
            ? {
                status: result.status,
                service,
                dir: result.dir,
                snapshot: result.snapshot.id,
                snapshotCreatedAt: result.snapshot.createdAt,
                files: result.files,
                entries: result.entries,
                dataBytes: result.bytes,
                method: result.method,
                durationMs: result.durationMs,
                ...(pointInTime ? { at: pointInTime.at, snapshotAgeAtSeconds: pointInTime.ageSeconds } : {}),
              }
            : { status: result.status, service, dir: result.dir, reason: result.reason, message: result.message };
        io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      } else if (result.status === 'restored') {
        io.stdout.write(`${result.snapshot.id}\n`);
      }
      if (result.status === 'restored') {
        say(
          io,
          `restored snapshot ${result.snapshot.id} of ${service} into ${result.dir}: ${result.files} files, ${formatBytes(result.bytes)} in ${formatDuration(result.durationMs)}`,
        );
      } else {
        say(io, result.message);
      }
    });
}
