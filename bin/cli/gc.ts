/**
 * `lifeboat gc [--service S] [--dry-run]`: garbage collection of format-v2 data now
 * (control/gc.ts), outside the retention schedule, which also runs it after each sweep.
 * Prints what it deleted (or, dry run, would delete): objects, bytes and store requests.
 */
import type { Command } from 'commander';
import { countingStore } from '../../lambdas/adapters/stores/counting-store.js';
import { collectGarbage, type GcResult } from '../../lambdas/control/gc.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { type CliIO, cliRuntime, openCatalog, openObjectStore, openRegistry, serviceName } from './context.js';
import type { CommandResult } from './options.js';
import { say } from './output.js';

interface GcFlags {
  service?: string;
  dryRun?: boolean;
  table?: string;
  store?: string;
  json?: boolean;
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function lines(r: GcResult, requests: number): string[] {
  const verb = r.dryRun ? 'would delete' : 'deleted';
  if (r.skipped) return [`${r.service}: skipped: ${r.skipped}`];
  const out = [
    `${r.service}: ${verb} ${r.deleted.objects} object(s), ${mib(r.deleted.bytes)}; ${requests} store request(s)${r.dryRun ? ' (dry run, nothing changed)' : ''}`,
    `  swept ${r.sweptLists} condemned list(s): ${r.sweptPacks.objects} pack(s), ${mib(r.sweptPacks.bytes)}; rescued ${r.rescuedPacks}; ${r.indexFilesReplaced} index file(s) rewritten`,
    `  condemned ${r.condemnedPacks.objects} pack(s), ${mib(r.condemnedPacks.bytes)} (deleted by a run after the grace period); repacked ${r.repacked.packs} sparse pack(s) (${r.repacked.blobs} blobs into ${r.repacked.newPacks} new)`,
    `  leftovers: ${r.leftovers.unindexedPacks.objects} unindexed pack(s), ${r.leftovers.uploadsAborted} incomplete upload(s), ${r.leftovers.tempFiles.objects} temp file(s), ${r.leftovers.orphanObjects.objects} uncatalogued snapshot object(s)`,
  ];
  for (const w of r.waiting) out.push(`  waiting: ${w}`);
  if (r.unhomedBlobs > 0)
    out.push(`  warning: ${r.unhomedBlobs} referenced blob(s) are only in condemned or missing packs; run \`lifeboat check --service ${r.service}\``);
  if (r.stoppedEarly) out.push('  stopped early; the next run continues');
  return out;
}

export function registerGc(program: Command, io: CliIO, done: (result: CommandResult) => void): void {
  program
    .command('gc')
    .description('garbage-collect format-v2 data no snapshot uses (also run by every retention sweep): condemn, repack, sweep, remove leftovers')
    .option('--service <name>', 'one protected service (default: every protected service; env LIFEBOAT_SERVICE)')
    .option('--dry-run', 'print what would be deleted; change nothing')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--json', 'print one JSON document')
    .action(async (flags: GcFlags) => {
      const one = serviceName(flags.service, io.env);
      const registry = openRegistry(flags, io);
      const services = one !== undefined ? [assertServiceName(one)] : await registry.list();
      const results: (GcResult & { requests: number })[] = [];
      let failed = 0;
      for (const service of services) {
        const policy = await registry.get(service);
        const { store, total } = countingStore(openObjectStore(flags, io));
        try {
          const r = await collectGarbage(
            { catalog: openCatalog(flags, io), objects: store, gcLease: cliRuntime(flags, io).gcLease },
            {
              service,
              dryRun: flags.dryRun ?? false,
              ...(policy?.retention.gcGraceSeconds !== undefined ? { graceSeconds: policy.retention.gcGraceSeconds } : {}),
            },
          );
          results.push({ ...r, requests: total() });
          if (!flags.json) for (const l of lines(r, total())) io.stdout.write(`${l}\n`);
        } catch (err) {
          failed++;
          say(io, `lifeboat: error: gc of ${service}: ${(err as Error).message}`);
        }
      }
      if (flags.json) io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      if (failed > 0) done({ exitCode: 1 });
    });
}
