/**
 * `lifeboat retention plan|apply`: which snapshots a service keeps and why (a dry run), and
 * the sweep that deletes the rest.
 *
 *   plan --service S [--policy P] [--tz Z]          the service's catalog, its stored policy (or P)
 *   plan --policy P --snapshots FILE [--tz Z]       offline what-if, no AWS needed
 *   apply --service S                               the sweep, with the stored policy only
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ServiceRetentionPlan, SweepResult } from '../../lambdas/control/retention.js';
import { planServiceRetention, sweepServiceRetention } from '../../lambdas/control/retention.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { candidatesFromJson, type PlanEntry, planEntries, planRetention } from '../../lambdas/domain/retention.js';
import { formatRetentionSpec, parseRetentionSpec, retentionRules } from '../../lambdas/domain/retention-policy.js';
import type { RetentionPolicy } from '../../lambdas/domain/service-policy.js';
import { type CliIO, openCatalog, openHolds, openObjectStore, openRegistry, serviceName, tableName } from './context.js';
import type { CommandResult } from './options.js';
import { formatTable, say } from './output.js';

interface RetentionFlags {
  service?: string;
  policy?: string;
  snapshots?: string;
  tz?: string;
  now?: string;
  table?: string;
  store?: string;
  json?: boolean;
}

/** The offline what-if's document: the same model prints as a table or as JSON. */
interface WhatIfReport {
  policy: string;
  timezone: string;
  now: string;
  /** The snapshot keep-within counts back from. */
  newest?: string;
  withinCutoff?: string;
  summary: { keep: number; delete: number };
  snapshots: PlanEntry[];
}

function parseNow(text: string | undefined): Date {
  if (text === undefined) return new Date();
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`--now ${JSON.stringify(text)} is not an ISO-8601 time`, { hint: 'e.g. --now 2026-11-27T12:00:00Z' });
  return new Date(t);
}

async function whatIf(flags: RetentionFlags): Promise<WhatIfReport> {
  if (flags.policy === undefined) {
    throw new UsageError('--snapshots needs --policy', { hint: 'e.g. --policy "last=3,daily=7,weekly=4,monthly=12,yearly=2,within=2d"' });
  }
  const policy = parseRetentionSpec(flags.policy);
  const rules = retentionRules(policy, '--policy', flags.tz);
  let text: string;
  try {
    text = await readFile(flags.snapshots!, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --snapshots ${flags.snapshots}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--snapshots ${flags.snapshots} is not valid JSON: ${(err as Error).message}`);
  }
  const candidates = candidatesFromJson(doc, rules.timezone, flags.snapshots);
  const now = parseNow(flags.now);
  const plan = planRetention(candidates, rules, { now: now.getTime() });
  const iso = (t: number | undefined) => (t === undefined || !Number.isFinite(t) ? undefined : new Date(t).toISOString());
  return {
    policy: formatRetentionSpec(policy),
    timezone: rules.timezone,
    now: now.toISOString(),
    ...(plan.anchor !== undefined ? { newest: iso(plan.anchor) } : {}),
    ...(iso(plan.withinCutoff) ? { withinCutoff: iso(plan.withinCutoff) } : {}),
    summary: { keep: plan.kept, delete: plan.deleted },
    snapshots: planEntries(candidates, plan),
  };
}

async function storedPolicy(flags: RetentionFlags, io: CliIO, service: string): Promise<RetentionPolicy> {
  const policy = await openRegistry(flags, io).get(service);
  if (!policy) {
    throw new UsageError(`service ${service} is not protected: table ${tableName(flags, io.env)} has no policy for it`, {
      hint: 'register it (the CDK construct does), check --service and --table, or pass --policy to plan with a policy of your own',
    });
  }
  return policy.retention;
}

function printEntries(io: CliIO, entries: PlanEntry[]): void {
  if (entries.length === 0) return;
  io.stdout.write(
    formatTable(
      ['ID', 'TIME', 'ACTION', 'REASONS'],
      entries.map((e) => [e.id, e.time, e.action, e.reasons.join('; ') || '-']),
    ),
  );
}

function printServicePlan(io: CliIO, plan: ServiceRetentionPlan): void {
  printEntries(io, plan.snapshots);
  for (const p of plan.pending) io.stdout.write(`${p.id}  ${p.createdAt}  ${p.action}  ${p.status}: ${p.reason}\n`);
  for (const u of plan.incompleteUploads ?? []) io.stdout.write(`upload ${u.key} (${u.uploadId}) started ${u.initiated ?? '?'}: ${u.action}\n`);
}

const summaryLine = (plan: ServiceRetentionPlan) => {
  const s = plan.summary;
  return `keep ${s.keep}, delete ${s.delete}${s.resume ? `, finish ${s.resume} interrupted deletion(s)` : ''}${s.reap ? `, reap ${s.reap} dead upload(s)` : ''}${s.abortUploads ? `, abort ${s.abortUploads} incomplete multipart upload(s)` : ''}`;
};

export function registerRetention(program: Command, io: CliIO, done: (r: CommandResult) => void): void {
  const retention = program.command('retention').description('plan and apply retention: which snapshots to keep (restic-style rules) and why');

  retention
    .command('plan')
    .description('show keep/delete with reasons (a dry run); with --snapshots FILE, an offline what-if that needs no AWS')
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--policy <rules>', 'keep rules instead of the stored policy, e.g. "last=3,daily=7,weekly=4,monthly=12,yearly=2,within=2d"')
    .option('--snapshots <file>', 'offline: a JSON array of { "id": "...", "time": "<ISO-8601>" } to plan instead of a catalog')
    .option('--tz <zone>', "IANA time zone for calendar periods (default: the policy's, else UTC)")
    .option('--now <time>', 'offline: plan as if it were this time (default: now)')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--json', 'print one JSON document')
    .action(async (flags: RetentionFlags) => {
      if (flags.snapshots !== undefined) {
        const report = await whatIf(flags);
        if (flags.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else printEntries(io, report.snapshots);
        say(io, `what-if: keep ${report.summary.keep}, delete ${report.summary.delete} (policy ${report.policy}, ${report.timezone}); nothing was deleted`);
        return;
      }
      if (flags.now !== undefined) throw new UsageError('--now only applies to an offline plan (--snapshots FILE)');
      const service = assertServiceName(serviceName(flags.service, io.env));
      const policy = flags.policy !== undefined ? parseRetentionSpec(flags.policy) : await storedPolicy(flags, io, service);
      const plan = await planServiceRetention(
        { catalog: openCatalog(flags, io), objects: openObjectStore(flags, io), holds: openHolds(flags, io) },
        {
          service,
          policy,
          owner: flags.policy !== undefined ? '--policy' : `service ${service}`,
          ...(flags.tz ? { timezone: flags.tz } : {}),
        },
      );
      if (flags.json) io.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
      else printServicePlan(io, plan);
      say(io, `${service}: ${summaryLine(plan)} (policy ${plan.policy}, ${plan.timezone}); dry run, nothing was deleted`);
    });

  retention
    .command('apply')
    .description("delete what the service's stored retention policy does not keep (two-phase and resumable), and reap dead uploads")
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--json', 'print one JSON document')
    .action(async (flags: RetentionFlags) => {
      const service = assertServiceName(serviceName(flags.service, io.env));
      const policy = await storedPolicy(flags, io, service);
      const result: SweepResult = await sweepServiceRetention(
        { catalog: openCatalog(flags, io), objects: openObjectStore(flags, io), holds: openHolds(flags, io) },
        { service, policy },
      );
      if (flags.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else for (const s of result.snapshots) io.stdout.write(`${s.id}\t${s.outcome}${s.reason ? `\t${s.reason}` : ''}\n`);
      say(
        io,
        `${service}: deleted ${result.deleted}, finished ${result.resumed}, reaped ${result.reaped}, aborted ${result.abortedUploads} upload(s), skipped ${result.skipped}, failed ${result.failed} (policy ${result.plan.policy}, ${result.plan.timezone})`,
      );
      if (result.failed > 0) {
        say(io, `lifeboat: error: ${result.failed} snapshot(s) could not be deleted; they stay marked and the next run retries them`);
        done({ exitCode: 1 });
      }
    });
}
