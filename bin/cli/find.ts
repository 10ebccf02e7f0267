/** `lifeboat find PATTERN`: which snapshots of a service hold a path, newest first (manifests only). */
import type { Command } from 'commander';
import pLimit from 'p-limit';
import { loadManifestView } from '../../lambdas/control/snapshot-inspect.js';
import { OperationFailedError } from '../../lambdas/domain/errors.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { compilePattern } from '../../lambdas/domain/path-glob.js';
import type { SnapshotRecord } from '../../lambdas/domain/snapshot.js';
import { type FindHit, findInSnapshot } from '../../lambdas/domain/snapshot-listing.js';
import { type CliIO, openCatalog, openObjectStore, serviceName } from './context.js';
import { entryJson } from './ls.js';
import { type CommandResult, positiveNumber } from './options.js';
import { formatBytes } from './output.js';

interface FindFlags {
  service?: string;
  snapshots?: number;
  table?: string;
  store?: string;
  json?: boolean;
}

export function registerFind(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  program
    .command('find')
    .description('which snapshots hold paths matching PATTERN, newest first (glob syntax: *, **, ?, [a-z], {a,b}; see the README)')
    .argument('<pattern>', 'a path pattern, e.g. "*.conf", "db/pg_hba.conf", "logs/**/*.gz"')
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--snapshots <n>', 'search only the newest n snapshots', positiveNumber('--snapshots'))
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--json', 'print one JSON document')
    .action(async (patternText: string, flags: FindFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
      const pattern = compilePattern(patternText);
      const catalog = openCatalog(flags, io);
      const store = openObjectStore(flags, io);
      const records: SnapshotRecord[] = [];
      for await (const r of catalog.list(service, { complete: true })) {
        records.push(r);
        if (flags.snapshots !== undefined && records.length >= flags.snapshots) break;
      }
      // A few manifests at a time: each can be large, and order is restored below.
      const limit = pLimit(4);
      const hits = (await Promise.all(records.map((r) => limit(async () => findInSnapshot(await loadManifestView(store, r), pattern))))).filter(
        (h): h is FindHit => h !== undefined,
      );
      if (flags.json)
        io.stdout.write(
          `${JSON.stringify({ service, pattern: patternText, searched: records.length, hits: hits.map((h) => ({ ...h, entries: h.entries.map(entryJson) })) }, null, 2)}\n`,
        );
      else {
        for (const h of hits) {
          io.stdout.write(`${h.snapshotId}  ${h.createdAt}\n`);
          for (const e of h.entries)
            io.stdout.write(
              `  ${e.type.padEnd(8)} ${formatBytes(e.size).padStart(9)}  ${new Date(e.mtimeMs).toISOString().slice(0, 19).replace('T', ' ')}  /${e.path}\n`,
            );
        }
      }
      if (hits.length === 0) {
        throw new OperationFailedError(
          `no path matching ${JSON.stringify(patternText)} in the ${records.length} complete snapshot${records.length === 1 ? '' : 's'} of ${service}`,
          {
            hint: 'a pattern without "/" matches a name at any depth ("*.conf"); with "/" it starts at the data directory ("db/*.conf")',
          },
        );
      }
      io.stderr.write(`${hits.length} of ${records.length} snapshots of ${service} hold a match\n`);
      done({ exitCode: 0 });
    });
}
