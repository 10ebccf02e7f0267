/**
 * `lifeboat check`: are the snapshots still restorable from what is in the store?
 * Exit 0 every complete (and expiring) snapshot is sound, 1 a snapshot is damaged (each
 * named, with what is wrong), 2 usage, 3 the store or catalog could not be reached.
 *
 *   check [--service S]                        existence and sizes (packs, parts, index)
 *   check --read-data                          and every needed pack and part read back
 *   check --read-data-subset 10% [--seed X]    a tenth of them (by seed, or at random)
 */
import type { Command } from 'commander';
import { checkSnapshots, DEFAULT_CHECK_CONCURRENCY, randomSeed } from '../../lambdas/control/check.js';
import { type CheckReport, describeReadData, parsePercent, type ReadDataMode } from '../../lambdas/domain/check.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { type CliIO, openCatalog, openObjectStore, openRegistry, serviceName } from './context.js';
import { type CommandResult, positiveNumber } from './options.js';
import { formatBytes, formatDuration, say } from './output.js';
import { assertKnownService } from './snapshots.js';

interface CheckFlags {
  service?: string;
  readData?: boolean;
  readDataSubset?: string;
  seed?: string;
  concurrency?: number;
  table?: string;
  store?: string;
  json?: boolean;
}

/** The flags → what to read; contradictions are usage errors (exit 2). */
export function readDataOf(flags: Pick<CheckFlags, 'readData' | 'readDataSubset' | 'seed'>): ReadDataMode {
  if (flags.readData && flags.readDataSubset !== undefined) {
    throw new UsageError('--read-data and --read-data-subset exclude each other', {
      hint: 'pass --read-data to read everything, or --read-data-subset N% for a part',
    });
  }
  if (flags.seed !== undefined && flags.readDataSubset === undefined) {
    throw new UsageError('--seed only applies to --read-data-subset', { hint: 'e.g. --read-data-subset 10% --seed nightly' });
  }
  if (flags.seed !== undefined && !/^[\w.-]{1,64}$/.test(flags.seed)) {
    throw new UsageError(`--seed ${JSON.stringify(flags.seed)} is not valid`, { hint: 'use 1-64 letters, digits, ".", "_" or "-"' });
  }
  if (flags.readDataSubset !== undefined) {
    const percent = parsePercent(flags.readDataSubset);
    return flags.seed !== undefined
      ? { mode: 'subset', percent, seed: flags.seed, selection: 'seeded' }
      : { mode: 'subset', percent, seed: randomSeed(), selection: 'random' };
  }
  return flags.readData ? { mode: 'all' } : { mode: 'none' };
}

function printReport(io: CliIO, report: CheckReport): void {
  const LISTED = 5;
  for (const s of report.damaged) {
    const more = s.problemCount > LISTED ? `; … and ${s.problemCount - LISTED} more (--json lists up to ${s.problems.length})` : '';
    io.stdout.write(`damaged ${s.service}/${s.id} (${s.format}, ${s.status}): ${s.problems.slice(0, LISTED).join('; ')}${more}\n`);
  }
  for (const s of report.snapshots.filter((x) => x.result === 'deleting')) {
    io.stdout.write(`deleting ${s.service}/${s.id} (${s.format}): expiring, its objects are being removed by retention; not counted as damage\n`);
  }
  const m = report.summary;
  io.stdout.write(
    `${report.verdict === 'ok' ? 'no damage found' : `${m.damagedSnapshots} damaged snapshot(s)`}: ${m.snapshotsChecked} snapshot(s) of ${m.services} service(s) checked, ` +
      `${m.packsChecked} pack(s) and ${m.partsChecked} part(s) found, ${m.packsRead} pack(s) and ${m.partsRead} part(s) read, ` +
      `${formatBytes(m.bytesRead)} read in ${formatDuration(m.durationMs)}; ${describeReadData(report.readData)}\n`,
  );
}

export function registerCheck(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  program
    .command('check')
    .description('verify that every complete snapshot can be restored from the store; exit 0 sound, 1 damaged (each named), 3 unreachable')
    .option('--service <name>', 'only this service (env LIFEBOAT_SERVICE; default: every protected service)')
    .option('--read-data', 'also read every pack and part back and verify every blob and part SHA-256')
    .option('--read-data-subset <percent>', 'read back only this share of the packs and parts, e.g. 10%')
    .option('--seed <text>', 'with --read-data-subset: choose the packs by this seed (the same seed reads the same packs); default random')
    .option('--concurrency <n>', `packs read at once (default ${DEFAULT_CHECK_CONCURRENCY})`, positiveNumber('--concurrency'))
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://BUCKET[/PREFIX] or file:///PATH (env LIFEBOAT_STORE / LIFEBOAT_BUCKET)')
    .option('--json', 'print one JSON document (schema lifeboat.check/v1)')
    .action(async (flags: CheckFlags) => {
      const readData = readDataOf(flags);
      const named = serviceName(flags.service, io.env);
      const catalog = openCatalog(flags, io);
      const registry = openRegistry(flags, io);
      let services: string[];
      if (named !== undefined) {
        const service = assertServiceName(named);
        let any = false;
        for await (const _ of catalog.list(service)) {
          any = true;
          break;
        }
        if (!any) await assertKnownService(registry, service, catalog.name);
        services = [service];
      } else {
        services = await registry.list();
        if (services.length === 0) say(io, `no protected services in ${catalog.name}; pass --service NAME to check one that is not registered`);
      }
      const store = openObjectStore(flags, io);
      await store.check();
      if (readData.mode === 'subset') say(io, `check: ${describeReadData(readData)}`);
      const report = await checkSnapshots({
        catalog,
        store,
        services,
        readData,
        ...(flags.concurrency !== undefined ? { concurrency: Math.floor(flags.concurrency) } : {}),
        signal: io.signal,
        onNotice: (line) => say(io, line),
      });
      if (flags.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else printReport(io, report);
      done({ exitCode: report.exitCode });
    });
}
