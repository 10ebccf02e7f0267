/** `lifeboat snapshots`: the catalog of one service, newest first. */
import type { Command } from 'commander';
import type { ServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import type { SnapshotRecord } from '../../lambdas/domain/snapshot.js';
import { didYouMean } from '../../lambdas/domain/suggest.js';
import { type CliIO, openCatalog, openRegistry, serviceName } from './context.js';
import { type CommandResult, positiveNumber } from './options.js';
import { formatBytes, formatTable } from './output.js';

interface ListFlags {
  service?: string;
  limit?: number;
  table?: string;
  json?: boolean;
}

export function registerSnapshots(program: Command, io: CliIO, _done: (r: CommandResult) => void): void {
  program
    .command('snapshots')
    .description("list a service's snapshots, newest first")
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--limit <n>', 'show at most n snapshots', positiveNumber('--limit'))
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--json', 'print a JSON array')
    .action(async (flags: ListFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
      const catalog = openCatalog(flags, io);
      const records: SnapshotRecord[] = [];
      for await (const r of catalog.list(service)) {
        records.push(r);
        if (flags.limit !== undefined && records.length >= flags.limit) break;
      }
      if (records.length === 0) await assertKnownService(openRegistry(flags, io), service, catalog.name);
      if (flags.json) {
        io.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
        return;
      }
      if (records.length === 0) {
        io.stderr.write(`no snapshots of ${service} in ${catalog.name}\n`);
        return;
      }
      io.stdout.write(
        formatTable(
          ['ID', 'STATUS', 'CREATED', 'FILES', 'DATA', 'STORED', 'VERIFIED', 'REASON'],
          records.map((r) => [
            r.id,
            r.status,
            r.createdAt,
            r.fileCount === undefined ? '-' : String(r.fileCount),
            formatBytes(r.dataSize),
            formatBytes(r.size),
            r.suspectAt ? `suspect (drill ${r.suspectDrill ?? '?'} failed)` : (r.verifiedAt ?? '-'),
            r.reason,
          ]),
        ),
      );
    });
}

/**
 * No snapshots and not protected either: most likely a typo, so say so (exit 2) rather than
 * print an empty list. A protected service without snapshots yet is an empty list.
 */
async function assertKnownService(registry: ServiceRegistry, service: string, table: string): Promise<void> {
  const known = await registry.list();
  if (known.includes(service)) return;
  throw new UsageError(`no service ${JSON.stringify(service)} in ${table}: it is not protected and has no snapshots${didYouMean(service, known)}`, {
    hint: `${known.length ? `protected services: ${known.join(', ')}; ` : ''}if its catalog was lost: lifeboat catalog rebuild --service ${service}`,
  });
}
