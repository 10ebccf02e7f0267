/**
 * The web console's view of one protected service, built from what the table holds (lease,
 * members, catalog, retention plan, drills, policy). Pure: every input and the clock are
 * passed in, so the page shows what the CLI and the handlers would decide.
 */

import { buildDrillReport, type DrillSummary, type ServiceVerdict } from '../domain/drill-report.js';
import type { DrillRecord } from '../domain/drills.js';
import type { Lease, Member } from '../domain/membership.js';
import { points } from '../domain/report/html.js';
import { lineChart } from '../domain/report/svg-chart.js';
import type { PlanEntry } from '../domain/retention.js';
import { nextFireTimes, parseScheduleExpression } from '../domain/schedule-expression.js';
import type { ServicePolicy } from '../domain/service-policy.js';
import type { SnapshotRecord } from '../domain/snapshot.js';

export interface MemberView {
  taskArn: string;
  taskId: string;
  role: 'primary' | 'replica' | 'leaving' | 'stopped';
  lastStatus?: string;
  heartbeatAgeMs?: number;
  aliveForMs?: number;
  dataPosition?: number;
  startedAt?: string;
  goneAt?: string;
  /** Local mode: the task's port. */
  port?: number;
}

export interface TermView {
  term: number;
  holder: string;
  taskId: string;
  /** Known for the current term (the lease records it). */
  electedAt?: string;
  /** Why this term began: the first election, or how the previous primary was lost. */
  cause: string;
  /** When and how the term ended (its holder stopped or was deposed); absent while it lasts. */
  ended?: string;
  endedAt?: string;
  current: boolean;
}

export interface SnapshotRow {
  id: string;
  status: SnapshotRecord['status'];
  createdAt: string;
  ageSeconds: number;
  size?: number;
  dataSize?: number;
  fileCount?: number;
  term?: number;
  reason: string;
  verifiedAt?: string;
  retention?: { action: 'keep' | 'delete'; reasons: string[] };
}

export interface DrillRow {
  drillId: string;
  status: DrillRecord['status'];
  verdict: DrillSummary['verdict'];
  trigger: DrillRecord['trigger'];
  createdAt: string;
  snapshotId: string;
  restoreSeconds: number | null;
  rtoSeconds: number | null;
  rpoSeconds: number | null;
  reason: string | null;
  kept?: { until: string; stoppedAt?: string; taskArn?: string; port?: number };
}

export interface ScheduleView {
  name: string;
  expression: string;
  timezone: string;
  /** Next firings, ISO times. */
  next: string[];
  /** Rate schedules count from when they were created, which the table does not record. */
  approximate?: boolean;
  lastAt?: string;
}

export interface ServiceView {
  service: string;
  targets: { rpoSeconds: number | null; rtoSeconds: number | null };
  failoverTimeoutSeconds: number;
  primary: { taskArn: string; taskId: string; term: number; electedAt: string; expiresInMs?: number } | null;
  members: MemberView[];
  timeline: TermView[];
  snapshots: {
    total: number;
    complete: number;
    newest?: { id: string; ageSeconds: number };
    /** Newest complete snapshot within the RPO target (null: no target). */
    rpoMet: boolean | null;
    /** At most `limit` rows, newest first. */
    rows: SnapshotRow[];
    retention?: { policy: string; timezone: string; keep: number; delete: number };
  };
  drills: { verdict: ServiceVerdict; reason: string; rows: DrillRow[]; charts: { rto: string; rpo: string } };
  schedules: ScheduleView[];
}

export interface ServiceInputs {
  policy: ServicePolicy;
  lease?: Lease;
  members: readonly Member[];
  /** The newest snapshots, any status, newest first: the rows shown. */
  snapshots: readonly SnapshotRecord[];
  /** Every snapshot, newest first, few fields (for counts and the RPO); default `snapshots`. */
  allSnapshots?: readonly Pick<SnapshotRecord, 'id' | 'status' | 'createdAt'>[];
  retention?: { policy: string; timezone: string; entries: readonly PlanEntry[] };
  /** Newest first. */
  drills: readonly DrillRecord[];
  /** Local mode's scheduler knows the real next firings; otherwise they come from the policy. */
  schedules?: ScheduleView[];
  /** Local mode: each task's port. */
  ports?: ReadonlyMap<string, number>;
}

export const shortTaskId = (taskArn: string): string => taskArn.split('/').pop() ?? taskArn;
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function memberRole(m: Member, lease: Lease | undefined): MemberView['role'] {
  if (m.lastStatus === 'STOPPED') return 'stopped';
  if (m.goneAt !== undefined) return 'leaving';
  return lease?.holder === m.taskArn && m.primaryTerm === lease.term ? 'primary' : 'replica';
}

function endOf(m: Member): string {
  if (m.stoppedReason || m.stopCode || m.exitCodes) {
    const codes = Object.values(m.exitCodes ?? {});
    return [`task stopped`, m.stoppedReason ? `(${m.stoppedReason})` : m.stopCode ? `(${m.stopCode})` : '', codes.length ? `exit code ${codes.join(', ')}` : '']
      .filter(Boolean)
      .join(' ');
  }
  if (m.goneAt !== undefined) return 'task stopping or released the lease';
  return 'stopped renewing its lease (heartbeats missed)';
}

/**
 * Every term the members still record (members expire from the table a while after their
 * task stops), oldest first, with why it began: term N began because the holder of term
 * N-1 went away in the way its member item says.
 */
export function failoverTimeline(lease: Lease | undefined, members: readonly Member[]): TermView[] {
  const byTerm = new Map<number, Member>();
  for (const m of members) {
    for (const t of [m.primaryTerm, m.deposedTerm]) if (t !== undefined && !byTerm.has(t)) byTerm.set(t, m);
  }
  if (lease && !byTerm.has(lease.term)) byTerm.set(lease.term, { service: lease.service, taskArn: lease.holder, commands: {} });
  const terms = [...byTerm.keys()].sort((a, b) => a - b);
  return terms.map((term, i) => {
    const m = byTerm.get(term)!;
    const current = lease?.term === term;
    const prev = i > 0 ? byTerm.get(terms[i - 1]!) : undefined;
    const cause =
      i === 0 && term === 1
        ? 'first election'
        : prev && terms[i - 1] === term - 1
          ? `failover: the term ${term - 1} primary (task ${shortTaskId(prev.taskArn).slice(0, 8)}) ${endOf(prev)}`
          : `elected after term ${term - 1} (earlier terms are no longer recorded: a member keeps only its latest ones)`;
    const ended = current ? undefined : endOf(m);
    return {
      term,
      holder: m.taskArn,
      taskId: shortTaskId(m.taskArn),
      ...(current && lease ? { electedAt: new Date(lease.electedAt).toISOString() } : {}),
      cause,
      ...(ended ? { ended } : {}),
      ...(!current && m.goneAt !== undefined ? { endedAt: iso(m.goneAt) } : {}),
      current,
    };
  });
}

/** Next firings of the policy's schedules (snapshot, retention, drill), in their zones. */
export function policySchedules(policy: ServicePolicy, now: number, count = 3): ScheduleView[] {
  const specs: [string, string | undefined, string | undefined][] = [
    ['snapshot', policy.snapshot.schedule, policy.snapshot.timezone],
    ['retention', policy.retention.schedule, policy.retention.timezone],
    ['drill', policy.drill.schedule, policy.drill.timezone],
  ];
  const out: ScheduleView[] = [];
  for (const [name, expression, timezone] of specs) {
    if (!expression) continue;
    const parsed = parseScheduleExpression(expression, timezone ?? 'UTC', `${name}.schedule`);
    out.push({
      name,
      expression,
      timezone: timezone ?? 'UTC',
      // A rate schedule's phase is its creation time; counting from the epoch gives the right spacing.
      next: nextFireTimes(parsed, now, 0, count).map((t) => new Date(t).toISOString()),
      ...(parsed.kind === 'rate' ? { approximate: true } : {}),
    });
  }
  return out;
}

export function serviceView(input: ServiceInputs, options: { now: number; snapshotLimit?: number; drillLimit?: number }): ServiceView {
  const { policy, lease, members, now } = { ...input, now: options.now };
  const limit = options.snapshotLimit ?? 100;
  const holderMember = lease ? members.find((m) => m.taskArn === lease.holder) : undefined;
  const plan = new Map((input.retention?.entries ?? []).map((e) => [e.id, e]));
  const all = input.allSnapshots ?? input.snapshots;
  const complete = all.filter((s) => s.status === 'complete');
  const newest = complete[0];
  const rpo = policy.targets.rpoSeconds ?? null;
  const newestAge = newest ? (now - Date.parse(newest.createdAt)) / 1000 : undefined;
  const report = buildDrillReport([{ service: policy.service, targets: policy.targets, drills: input.drills.slice(0, options.drillLimit ?? 30) }], {
    now: new Date(now),
  });
  const svc = report.services[0]!;
  const keptBy = new Map(input.drills.map((d) => [d.drillId, d]));
  return {
    service: policy.service,
    targets: { rpoSeconds: rpo, rtoSeconds: policy.targets.rtoSeconds ?? null },
    failoverTimeoutSeconds: policy.failover.timeoutSeconds,
    primary: lease
      ? {
          taskArn: lease.holder,
          taskId: shortTaskId(lease.holder),
          term: lease.term,
          electedAt: new Date(lease.electedAt).toISOString(),
          ...(lease.expiresAt !== undefined
            ? { expiresInMs: lease.expiresAt - now }
            : holderMember?.aliveUntil !== undefined
              ? { expiresInMs: holderMember.aliveUntil - now }
              : {}),
        }
      : null,
    members: members
      .filter((m) => m.lastStatus !== 'STOPPED' || (m.goneAt !== undefined && now - m.goneAt < 10 * 60_000))
      .map((m) => ({
        taskArn: m.taskArn,
        taskId: shortTaskId(m.taskArn),
        role: memberRole(m, lease),
        ...(m.lastStatus ? { lastStatus: m.lastStatus } : {}),
        ...(m.heartbeatAt !== undefined ? { heartbeatAgeMs: now - m.heartbeatAt } : {}),
        ...(m.aliveUntil !== undefined ? { aliveForMs: m.aliveUntil - now } : {}),
        ...(m.dataPosition !== undefined ? { dataPosition: m.dataPosition } : {}),
        ...(m.startedAt !== undefined ? { startedAt: iso(m.startedAt) } : {}),
        ...(m.goneAt !== undefined ? { goneAt: iso(m.goneAt) } : {}),
        ...(input.ports?.get(m.taskArn) !== undefined ? { port: input.ports.get(m.taskArn) } : {}),
      }))
      .sort((a, b) => (a.role === 'primary' ? -1 : b.role === 'primary' ? 1 : a.taskId.localeCompare(b.taskId))),
    timeline: failoverTimeline(lease, members),
    snapshots: {
      total: all.length,
      complete: complete.length,
      ...(newest ? { newest: { id: newest.id, ageSeconds: Math.round(newestAge!) } } : {}),
      rpoMet: rpo === null ? null : newestAge !== undefined && newestAge <= rpo,
      rows: input.snapshots.slice(0, limit).map((s) => {
        const e = plan.get(s.id);
        return {
          id: s.id,
          status: s.status,
          createdAt: s.createdAt,
          ageSeconds: Math.round((now - Date.parse(s.createdAt)) / 1000),
          ...(s.size !== undefined ? { size: s.size } : {}),
          ...(s.dataSize !== undefined ? { dataSize: s.dataSize } : {}),
          ...(s.fileCount !== undefined ? { fileCount: s.fileCount } : {}),
          ...(s.term !== undefined ? { term: s.term } : {}),
          reason: s.reason,
          ...(s.verifiedAt ? { verifiedAt: s.verifiedAt } : {}),
          ...(e ? { retention: { action: e.action, reasons: e.reasons } } : {}),
        };
      }),
      ...(input.retention
        ? {
            retention: {
              policy: input.retention.policy,
              timezone: input.retention.timezone,
              keep: input.retention.entries.filter((e) => e.action === 'keep').length,
              delete: input.retention.entries.filter((e) => e.action === 'delete').length,
            },
          }
        : {}),
    },
    drills: {
      verdict: svc.verdict,
      reason: svc.reason,
      rows: svc.drills.map((d) => {
        const record = keptBy.get(d.drillId);
        return {
          drillId: d.drillId,
          status: d.status,
          verdict: d.verdict,
          trigger: d.trigger,
          createdAt: d.startedAt,
          snapshotId: d.snapshotId,
          restoreSeconds: d.restoreSeconds,
          rtoSeconds: d.rtoSeconds,
          rpoSeconds: d.rpoSeconds,
          reason: d.reason,
          ...(record?.keep
            ? {
                kept: {
                  until: record.keep.until ?? `${record.keep.seconds} s after the verdict`,
                  ...(record.keep.stoppedAt ? { stoppedAt: record.keep.stoppedAt } : {}),
                  ...(record.taskArn ? { taskArn: record.taskArn } : {}),
                  // Local mode: where the kept task's application answers.
                  ...(record.taskArn && input.ports?.get(record.taskArn) !== undefined ? { port: input.ports.get(record.taskArn) } : {}),
                },
              }
            : {}),
        };
      }),
      charts: {
        rto: lineChart({
          title: 'RTO: task start to verified',
          points: points(svc.drills, (d) => d.rtoSeconds, 'RTO'),
          target: svc.targets.rtoSeconds,
          width: 460,
          height: 170,
        }),
        rpo: lineChart({
          title: 'RPO: newest snapshot age at drill start',
          points: points(svc.drills, (d) => d.rpoSeconds, 'RPO'),
          target: svc.targets.rpoSeconds,
          width: 460,
          height: 170,
        }),
      },
    },
    schedules: input.schedules ?? policySchedules(policy, now),
  };
}
