/** `lifeboat catalog rebuild`: recover catalog entries from the manifests in the store. */
import type { Command } from 'commander';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { rebuildCatalog } from '../../lambdas/engine/catalog-rebuild.js';
import { type CliIO, openCatalog, openObjectStore, serviceName } from './context.js';
import type { CommandResult } from './options.js';
import { say } from './output.js';

interface RebuildFlags {
  service?: string;
  dryRun?: boolean;
  table?: string;
  store?: string;
  json?: boolean;
}

export function registerCatalog(program: Command, io: CliIO, _done: (r: CommandResult) => void): void {
  const catalog = program.command('catalog').description('maintain the snapshot catalog');
  catalog
    .command('rebuild')
    .description('restore the catalog entries of every complete snapshot found in the store; reports what it skipped')
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--dry-run', 'only report what would be imported')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--json', 'print one JSON document')
    .action(async (flags: RebuildFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
      const result = await rebuildCatalog({
        catalog: openCatalog(flags, io),
        store: openObjectStore(flags, io),
        service,
        dryRun: flags.dryRun,
      });
      if (flags.json) {
        io.stdout.write(`${JSON.stringify({ ...result, dryRun: flags.dryRun ?? false }, null, 2)}\n`);
      } else {
        for (const s of result.snapshots) {
          io.stdout.write(`${s.id}\t${s.outcome}${s.reason ? `\t${s.reason}` : ''}\n`);
        }
      }
      const verb = flags.dryRun ? 'would import' : 'imported';
      say(io, `${service}: ${verb} ${result.imported}, already present ${result.present}, skipped ${result.skipped}`);
    });
}
