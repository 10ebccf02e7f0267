/** `lifeboat diff A B`: what changed between two snapshots of a service, from their manifests. */
import type { Command } from 'commander';
import { loadManifestView, parseSnapshotRef, resolveSnapshotRef } from '../../lambdas/control/snapshot-inspect.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { type Change, diffSnapshots } from '../../lambdas/domain/snapshot-listing.js';
import { type CliIO, openCatalog, openObjectStore, serviceName } from './context.js';
import type { CommandResult } from './options.js';
import { formatBytes } from './output.js';

interface DiffFlags {
  service?: string;
  table?: string;
  store?: string;
  json?: boolean;
}

const MARK: Record<Change['kind'], string> = { added: '+', removed: '-', modified: 'M', metadata: 'U' };

function sizes(c: Change): string {
  if (c.kind === 'added') return formatBytes(c.sizeAfter);
  if (c.kind === 'removed') return formatBytes(c.sizeBefore);
  return c.sizeBefore === c.sizeAfter ? formatBytes(c.sizeAfter) : `${formatBytes(c.sizeBefore)} → ${formatBytes(c.sizeAfter)}`;
}

export function registerDiff(program: Command, io: CliIO, _done: (r: CommandResult) => void): void {
  program
    .command('diff')
    .description('what changed from snapshot A to snapshot B: + added, - removed, M modified, U metadata only (mode, mtime, owner)')
    .argument('<a>', 'the older snapshot: id, "latest", or SERVICE/ID')
    .argument('<b>', 'the newer snapshot: id, "latest", or SERVICE/ID')
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--json', 'print one JSON document')
    .action(async (a: string, b: string, flags: DiffFlags) => {
      const defaultService = serviceName(flags.service, io.env);
      const refA = parseSnapshotRef(a, defaultService);
      const refB = parseSnapshotRef(b, defaultService);
      if (refA.service !== refB.service) {
        throw new UsageError(`${a} is a snapshot of ${refA.service} and ${b} of ${refB.service}; diff compares two snapshots of one service`, {
          hint: 'pick two snapshots of the same service',
        });
      }
      const catalog = openCatalog(flags, io);
      const store = openObjectStore(flags, io);
      const [ra, rb] = await Promise.all([resolveSnapshotRef(catalog, refA), resolveSnapshotRef(catalog, refB)]);
      const [va, vb] = await Promise.all([loadManifestView(store, ra), loadManifestView(store, rb)]);
      const diff = diffSnapshots(va, vb);
      if (flags.json) {
        io.stdout.write(`${JSON.stringify(diff, null, 2)}\n`);
        return;
      }
      const out = diff.changes.map(
        (c) => `${MARK[c.kind]}  ${sizes(c).padStart(19)}  /${c.path}${c.type === 'dir' ? '/' : ''}${c.what ? `  (${c.what.join(', ')})` : ''}`,
      );
      if (out.length) io.stdout.write(`${out.join('\n')}\n`);
      const s = diff.summary;
      io.stderr.write(
        `${diff.a.id} → ${diff.b.id} (${diff.a.service}): ${s.added.count} added (${formatBytes(s.added.bytes)}), ${s.removed.count} removed (${formatBytes(s.removed.bytes)}), ` +
          `${s.modified.count} modified (${formatBytes(s.modified.bytes)}), ${s.metadata.count} metadata only, ${s.unchanged} unchanged\n`,
      );
    });
}
