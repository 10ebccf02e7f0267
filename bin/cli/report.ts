/**
 * `lifeboat report`: the drill report for CI. Exit 0 when every service has a passing
 * drill younger than --max-age within its targets, 1 when any failed, is stale or over
 * target, 3 when it could not be evaluated (table unreachable, drills that could not run).
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { loadDrillReport } from '../../lambdas/control/drills/reports.js';
import { parseMaxAge, type ReportFormat } from '../../lambdas/domain/drill-report.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { SERVICE_VERDICT_LABEL } from '../../lambdas/domain/report/format.js';
import { REPORT_FORMATS, renderReport } from '../../lambdas/domain/report/render.js';
import { type CliIO, openDrillStore, openRegistry } from './context.js';
import type { CommandResult } from './options.js';
import { say } from './output.js';

interface ReportFlags {
  format?: ReportFormat;
  out?: string;
  service?: string;
  maxAge?: string;
  table?: string;
  json?: boolean;
}

/** Temporary sibling, then rename: a reader (or a crash) never sees half a report. */
async function writeAtomically(path: string, content: string): Promise<void> {
  const target = resolve(path);
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, content);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EROFS') {
      throw new UsageError(`cannot write the report to ${path}: ${(err as Error).message}`, { hint: '--out needs a file in an existing, writable directory' });
    }
    throw err;
  }
}

export function registerReport(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  program
    .command('report')
    .description('render the restore-drill report; exit 0 all proven, 1 failed/stale/over target, 3 could not evaluate')
    .addOption(new Option('--format <format>', 'output format').choices(REPORT_FORMATS as string[]))
    .option('--out <file>', 'write the report to this file instead of stdout')
    .option('--service <name>', 'only this service (default: every protected service)')
    .option('--max-age <duration>', 'a passing drill older than this counts as stale, e.g. 26h, 7d (default: any age)')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--json', 'same as --format json')
    .action(async (flags: ReportFlags) => {
      const maxAgeSeconds = flags.maxAge === undefined ? null : parseMaxAge(flags.maxAge);
      const format: ReportFormat = flags.json ? 'json' : (flags.format ?? 'markdown');
      const report = await loadDrillReport({ drills: openDrillStore(flags, io), registry: openRegistry(flags, io) }, { service: flags.service, maxAgeSeconds });
      const text = renderReport(report, format);
      if (flags.out) {
        await writeAtomically(flags.out, text);
        say(io, `wrote the ${format} report to ${flags.out}`);
      } else {
        io.stdout.write(text);
      }
      const notPassing = report.services.filter((s) => s.verdict !== 'pass');
      const detail = notPassing.length
        ? `: ${notPassing.map((s) => `${s.service} ${SERVICE_VERDICT_LABEL[s.verdict]}`).join(', ')}`
        : report.services.length === 0
          ? ': no protected services'
          : '';
      say(io, `drill report: ${report.verdict} (${report.summary.passing} of ${report.summary.services} services passing${detail})`);
      done({ exitCode: report.exitCode });
    });
}
