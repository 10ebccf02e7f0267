/**
 * Local mode's status view: members, primary and term, snapshots with retention's
 * decisions, drills, schedules and recent activity — as a refreshing table on a terminal
 * (cli-table3 renders, log-update redraws), or as plain lines where there is no terminal
 * or CI is set (clig.dev: no animation there). Rendering is pure; the loop is below.
 */
import Table from 'cli-table3';
import type { Activity, LocalStatus } from './local-mode.js';

const short = (arn: string | undefined) => (arn ? arn.split('/').pop()!.slice(0, 8) : '-');
const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

function ago(ms: number | undefined, now: number): string {
  if (ms === undefined) return '-';
  const s = Math.max(0, (now - ms) / 1000);
  return s < 100 ? `${s.toFixed(s < 10 ? 1 : 0)} s ago` : s < 5400 ? `${(s / 60).toFixed(0)} min ago` : `${(s / 3600).toFixed(1)} h ago`;
}

function inTime(ms: number | undefined, now: number): string {
  if (ms === undefined) return '-';
  const s = Math.max(0, (ms - now) / 1000);
  return s < 100 ? `in ${s.toFixed(0)} s` : s < 5400 ? `in ${(s / 60).toFixed(0)} min` : `in ${(s / 3600).toFixed(1)} h`;
}

function bytes(n: number | undefined): string {
  if (n === undefined) return '-';
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

function table(head: string[], rows: string[][], color: boolean): string {
  const t = new Table({ head, style: { head: color ? ['cyan'] : [], border: color ? ['grey'] : [], compact: true, 'padding-left': 1, 'padding-right': 1 } });
  for (const r of rows) t.push(r);
  return t.toString();
}

export const KEYS_HELP = 'k kill the primary · s snapshot · d drill · c damage the newest snapshot · r retention now · q quit';

/** The whole screen as text. */
export function renderStatus(s: LocalStatus, { color = false } = {}): string {
  const now = s.at;
  const out: string[] = [];
  out.push(`Lifeboat local mode — service ${s.service} · schedules ×${s.speed} · ${s.ephemeral ? 'ephemeral' : `state in ${s.stateDir}`}`);
  out.push(`service (via discovery): ${s.serviceUrl ?? '-'}/kv/KEY   local API: ${s.apiUrl ?? '-'}   store: ${s.store}`);
  const primary = s.lease ? `task ${short(s.lease.holder)}, term ${s.lease.term}, elected ${ago(s.lease.electedAt, now)}` : 'none yet';
  out.push(
    `primary: ${primary}   discovery → ${s.discovery ? `task ${short(s.discovery.taskArn)} (term ${s.discovery.term}, port ${s.discovery.port ?? '-'})` : 'nothing registered'}`,
  );
  out.push('');
  out.push(
    table(
      ['task', 'role', 'ECS status', 'port', 'heartbeat', 'data from', 'started'],
      s.members.map((m) => [
        m.taskId.slice(0, 8),
        m.role === 'primary' ? `PRIMARY (term ${m.term})` : m.role,
        `${m.lastStatus}${m.desiredStatus === 'STOPPED' && m.lastStatus !== 'STOPPED' ? ' → STOPPED' : ''}${m.exitCode !== undefined ? ` (exit ${m.exitCode})` : ''}`,
        String(m.port ?? '-'),
        m.heartbeatAgeMs === undefined ? '-' : `${(m.heartbeatAgeMs / 1000).toFixed(1)} s ago`,
        m.dataPosition ? new Date(m.dataPosition).toISOString().slice(11, 19) : '-',
        m.startedAt ? m.startedAt.slice(11, 19) : '-',
      ]),
      color,
    ),
  );
  const r = s.retention;
  out.push(`snapshots${r ? ` — retention ${r.policy} (${r.timezone}): keep ${r.summary.keep}, delete ${r.summary.delete}` : ''}`);
  out.push(
    table(
      ['id', 'status', 'created', 'size', 'term', 'verified', 'retention'],
      s.snapshots.map((x) => [
        x.id,
        x.status,
        ago(Date.parse(x.createdAt), now),
        bytes(x.size),
        String(x.term ?? '-'),
        x.suspectAt ? 'suspect' : x.verifiedAt ? 'yes' : '-',
        x.retention ? `${x.retention.action}${x.retention.reasons.length ? `: ${x.retention.reasons.join('; ')}` : ''}`.slice(0, 60) : '-',
      ]),
      color,
    ),
  );
  out.push('drills');
  out.push(
    table(
      ['drill', 'status', 'snapshot', 'RTO', 'RPO', 'reason'],
      s.drills.map((d) => [
        d.drillId,
        d.status,
        d.snapshotId.slice(0, 19),
        d.rtoSeconds !== undefined ? `${d.rtoSeconds} s` : '-',
        `${Math.round(d.rpoSeconds)} s`,
        (d.reason ?? '').slice(0, 70),
      ]),
      color,
    ),
  );
  out.push(`schedules: ${s.schedules.map((x) => `${x.name} ${x.expression} ${x.running ? 'running' : inTime(x.nextAt, now)}`).join(' · ')}`);
  out.push('');
  out.push('activity:');
  for (const a of s.activity) out.push(`  ${activityLine(a)}`);
  return out.join('\n');
}

export function activityLine(a: Activity): string {
  return `${clock(a.at)} ${a.kind.padEnd(9)} ${a.text}`;
}

/** One line for plain output (no terminal, or CI): the state at a glance. */
export function summaryLine(s: LocalStatus): string {
  const live = s.members.filter((m) => m.role === 'primary' || m.role === 'replica').length;
  const newest = s.snapshots.find((x) => x.status === 'complete');
  const drills = s.drills.length ? s.drills.map((d) => d.status).join(',') : 'none';
  return `status: primary ${s.lease ? `${short(s.lease.holder)} (term ${s.lease.term})` : 'none'}, ${live} live members, ${s.snapshots.length} snapshots (newest complete ${newest ? ago(Date.parse(newest.createdAt), s.at) : '-'}), drills ${drills}`;
}
