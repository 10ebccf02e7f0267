/**
 * The drill report model: one document built from drill records, for one service or all,
 * that every renderer (JSON, JUnit, Markdown, HTML) and the `lifeboat report` exit code
 * are derived from. Pure.
 *
 * Per service, the verdict comes from the newest *conclusive* drill (passed, failed or
 * timed out); drills that could not run (`error`) do not erase an earlier proof:
 *
 *   verdict       when                                                           exit
 *   pass          newest conclusive drill passed within targets, younger than max-age   0
 *   fail          newest conclusive drill failed or timed out                         1
 *   over-target   newest conclusive drill passed but missed the RTO or RPO target     1
 *   stale         newest conclusive drill passed but is older than max-age            1
 *   none          the service was never drilled                                       1
 *   error         no conclusive drill, or the last pass is older than max-age and       3
 *                 newer drills could not run: nothing could be evaluated
 *
 * The report's exit code: 1 if any service is fail/over-target/stale/none; otherwise 3
 * if any is error (or there is no service at all); otherwise 0.
 */
import ms from 'ms';
import type { CanaryResult } from './drill-checks.js';
import type { DrillCheck, DrillRecord, DrillStatus, DrillTargets, DrillTrigger } from './drills.js';
import { UsageError } from './errors.js';

export const DRILL_REPORT_SCHEMA = 'lifeboat.drill-report/v1';

export type DrillVerdict = 'pass' | 'fail' | 'over-target' | 'timed-out' | 'error' | 'running';
export type ServiceVerdict = 'pass' | 'fail' | 'over-target' | 'stale' | 'none' | 'error';
export type ReportVerdict = 'pass' | 'fail' | 'error';
export type ReportFormat = 'json' | 'junit' | 'markdown' | 'html';

/** How a drill takes part in its service's verdict. */
export type DrillRole =
  /** the newest conclusive drill: it decides the verdict */
  | 'deciding'
  /** newer than the deciding one (still running, or could not run) */
  | 'newer'
  /** older history, shown in trends */
  | 'history';

export interface DrillSummary {
  drillId: string;
  status: DrillStatus;
  verdict: DrillVerdict;
  role: DrillRole;
  trigger: DrillTrigger;
  snapshotId: string;
  snapshotCreatedAt: string;
  startedAt: string;
  finishedAt: string | null;
  /** Drill start to finish (seconds), null while running. */
  durationSeconds: number | null;
  restoreSeconds: number | null;
  /** Data objects the drill's restore read (packs; v1: parts) and their bytes; null when it did not restore. */
  packsRead: number | null;
  bytesRead: number | null;
  rtoSeconds: number | null;
  rpoSeconds: number;
  snapshotAgeSeconds: number;
  overTarget: ('rto' | 'rpo')[];
  reason: string | null;
  exitCode: number | null;
  stopCode: string | null;
  taskArn: string | null;
  checks: DrillCheck[];
  /** `canary`: rpoSeconds is the age of the canary the restored database proved to hold. */
  rpoSource: 'snapshot' | 'canary';
  /** The database recipe's canary: recorded at snapshot time, found in the restored database. */
  canary: CanaryResult | null;
}

export interface ServiceDrillReport {
  service: string;
  verdict: ServiceVerdict;
  /** One line explaining the verdict. */
  reason: string;
  targets: { rpoSeconds: number | null; rtoSeconds: number | null };
  decidingDrillId: string | null;
  lastPassedAt: string | null;
  /** Newest first. */
  drills: DrillSummary[];
}

export interface DrillReport {
  schema: typeof DRILL_REPORT_SCHEMA;
  generatedAt: string;
  /** Only passing drills younger than this count; null = any age. */
  maxAgeSeconds: number | null;
  verdict: ReportVerdict;
  exitCode: 0 | 1 | 3;
  summary: { services: number; passing: number; failing: number; errors: number; drills: number };
  services: ServiceDrillReport[];
}

export interface ServiceDrillInput {
  service: string;
  /** The service's current targets (the drills carry the ones they were judged against). */
  targets: DrillTargets;
  /** Any order; at most the history you want shown. */
  drills: readonly DrillRecord[];
}

const FAILING: ReadonlySet<ServiceVerdict> = new Set(['fail', 'over-target', 'stale', 'none']);

export function drillVerdict(d: Pick<DrillRecord, 'status' | 'withinTargets'>): DrillVerdict {
  switch (d.status) {
    case 'running':
      return 'running';
    case 'passed':
      return d.withinTargets === false ? 'over-target' : 'pass';
    case 'failed':
      return 'fail';
    case 'timed-out':
      return 'timed-out';
    case 'error':
      return 'error';
  }
}

/** By start time, then id: newest first. */
const newestFirst = (a: DrillRecord, b: DrillRecord) =>
  Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.drillId < b.drillId ? 1 : a.drillId > b.drillId ? -1 : 0);
const isConclusive = (d: DrillRecord) => d.status === 'passed' || d.status === 'failed' || d.status === 'timed-out';
const endOf = (d: DrillRecord) => d.finishedAt ?? d.createdAt;
const secondsBetween = (a: string, b: string) => Math.round(((Date.parse(b) - Date.parse(a)) / 1000) * 1000) / 1000;

function keptNote(reason: string | null, d: DrillRecord): string | null {
  if (!d.keep) return reason;
  const note = d.keep.stoppedAt
    ? `task was kept for inspection until ${d.keep.stoppedAt}`
    : d.keep.until
      ? `task kept for inspection until ${d.keep.until}`
      : `task to be kept ${d.keep.seconds} s after the verdict`;
  return reason ? `${reason} [${note}]` : `[${note}]`;
}

export function summarizeDrill(d: DrillRecord, role: DrillRole): DrillSummary {
  return {
    drillId: d.drillId,
    status: d.status,
    verdict: drillVerdict(d),
    role,
    trigger: d.trigger,
    snapshotId: d.snapshotId,
    snapshotCreatedAt: d.snapshotCreatedAt,
    startedAt: d.createdAt,
    finishedAt: d.finishedAt ?? null,
    durationSeconds: d.finishedAt ? Math.max(0, secondsBetween(d.createdAt, d.finishedAt)) : null,
    restoreSeconds: d.restoreSeconds ?? d.agent?.restoreSeconds ?? null,
    packsRead: d.agent?.packsRead ?? null,
    bytesRead: d.agent?.bytesRead ?? null,
    rtoSeconds: d.rtoSeconds ?? null,
    rpoSeconds: d.rpoSeconds,
    snapshotAgeSeconds: d.snapshotAgeSeconds,
    overTarget: d.overTarget ?? [],
    // A kept drill (`--keep`) says so in every format, without a field of its own.
    reason: keptNote(d.reason ?? (d.status === 'running' ? 'still running' : null), d),
    exitCode: d.exitCode ?? null,
    stopCode: d.stopCode ?? null,
    taskArn: d.taskArn ?? null,
    checks: d.agent?.checks ?? [],
    rpoSource: d.rpoSource ?? 'snapshot',
    canary: d.agent?.canary ?? null,
  };
}

/** Decides one service's verdict from its drills. */
export function evaluateService(input: ServiceDrillInput, now: Date, maxAgeSeconds: number | null): ServiceDrillReport {
  const drills = [...input.drills].sort(newestFirst);
  const decidingIndex = drills.findIndex(isConclusive);
  const deciding = decidingIndex === -1 ? undefined : drills[decidingIndex]!;
  const newer = decidingIndex === -1 ? drills : drills.slice(0, decidingIndex);
  const roleOf = (i: number): DrillRole => (i === decidingIndex ? 'deciding' : decidingIndex === -1 || i < decidingIndex ? 'newer' : 'history');
  const lastPassed = drills.find((d) => d.status === 'passed' && d.withinTargets !== false);
  const errorsSince = newer.filter((d) => d.status === 'error');
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

  let verdict: ServiceVerdict;
  let reason: string;
  if (!deciding) {
    if (errorsSince.length > 0) {
      verdict = 'error';
      reason = `no drill could run (${plural(errorsSince.length, 'attempt')}); last: ${errorsSince[0]!.reason ?? 'no reason recorded'}`;
    } else if (drills.length > 0) {
      verdict = 'none';
      reason = 'the first drill is still running';
    } else {
      verdict = 'none';
      reason = 'never drilled';
    }
  } else if (deciding.status === 'failed' || deciding.status === 'timed-out') {
    verdict = 'fail';
    reason = `${deciding.drillId} ${deciding.status === 'failed' ? 'failed' : 'timed out'}: ${deciding.reason ?? 'no reason recorded'}`;
  } else if (deciding.withinTargets === false) {
    verdict = 'over-target';
    reason = `${deciding.drillId} passed but missed its targets: ${deciding.reason ?? ''}`.trim();
  } else if (maxAgeSeconds !== null && (now.getTime() - Date.parse(endOf(deciding))) / 1000 > maxAgeSeconds) {
    const age = Math.round((now.getTime() - Date.parse(endOf(deciding))) / 1000);
    if (errorsSince.length > 0) {
      verdict = 'error';
      reason = `the last passing drill (${deciding.drillId}) is ${fmtAge(age)} old and the ${plural(errorsSince.length, 'drill')} since could not run; last: ${errorsSince[0]!.reason ?? 'no reason recorded'}`;
    } else {
      verdict = 'stale';
      reason = `the last passing drill (${deciding.drillId}) is ${fmtAge(age)} old, more than the allowed ${fmtAge(maxAgeSeconds)}`;
    }
  } else {
    verdict = 'pass';
    reason = `${deciding.drillId} passed within targets`;
    if (errorsSince.length > 0) reason += `; ${plural(errorsSince.length, 'newer drill')} could not run`;
  }

  return {
    service: input.service,
    verdict,
    reason,
    targets: { rpoSeconds: input.targets.rpoSeconds ?? null, rtoSeconds: input.targets.rtoSeconds ?? null },
    decidingDrillId: deciding?.drillId ?? null,
    lastPassedAt: lastPassed ? endOf(lastPassed) : null,
    drills: drills.map((d, i) => summarizeDrill(d, roleOf(i))),
  };
}

function fmtAge(s: number): string {
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round((s / 3600) * 10) / 10}h`;
  return `${Math.round((s / 86_400) * 10) / 10}d`;
}

export function buildDrillReport(services: readonly ServiceDrillInput[], options: { now: Date; maxAgeSeconds?: number | null }): DrillReport {
  const maxAgeSeconds = options.maxAgeSeconds ?? null;
  const evaluated = [...services].sort((a, b) => a.service.localeCompare(b.service)).map((s) => evaluateService(s, options.now, maxAgeSeconds));
  const failing = evaluated.filter((s) => FAILING.has(s.verdict)).length;
  const errors = evaluated.filter((s) => s.verdict === 'error').length;
  const exitCode: 0 | 1 | 3 = failing > 0 ? 1 : errors > 0 || evaluated.length === 0 ? 3 : 0;
  return {
    schema: DRILL_REPORT_SCHEMA,
    generatedAt: options.now.toISOString(),
    maxAgeSeconds,
    verdict: exitCode === 0 ? 'pass' : exitCode === 1 ? 'fail' : 'error',
    exitCode,
    summary: {
      services: evaluated.length,
      passing: evaluated.filter((s) => s.verdict === 'pass').length,
      failing,
      errors,
      drills: evaluated.reduce((n, s) => n + s.drills.length, 0),
    },
    services: evaluated,
  };
}

/** `26h`, `2d`, `90m`, `3600s` → seconds. Throws UsageError otherwise. */
export function parseMaxAge(text: string): number {
  const trimmed = text.trim();
  const value = /^\d+(\.\d+)?\s*[a-z]+$/i.test(trimmed) ? ms(trimmed as ms.StringValue) : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(`--max-age ${JSON.stringify(text)} is not a duration`, { hint: 'use a number with a unit: 90m, 26h, 7d' });
  }
  return Math.round(value / 1000);
}
