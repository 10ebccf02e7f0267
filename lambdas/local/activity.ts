/**
 * One line for the status view's activity list from what a handler returned: the handlers'
 * results are the facts (member recorded, primary elected, retention deleted 2, drill
 * failed because …), local mode only words them. Pure.
 */
import type { EcsTask } from '../domain/ecs-task.js';
import type { Delivery } from './event-bus.js';
import type { ScheduleFiring } from './scheduler.js';

export interface ActivityLine {
  kind: 'task' | 'primary' | 'snapshot' | 'retention' | 'drill' | 'report' | 'schedule' | 'error' | 'info';
  text: string;
}

const short = (arn: string | undefined) => (arn ?? '?').split('/').pop()!.slice(0, 8);

export function describeDelivery(d: Delivery): ActivityLine | undefined {
  // Any event comes here (schedules too): the task fields are there only for task events.
  const detail: Partial<EcsTask> = (d.event as { detail?: Partial<EcsTask> }).detail ?? {};
  if (d.error)
    return {
      kind: 'error',
      text: `${d.rule} handler failed after ${d.attempts} attempt(s) on task ${short(detail.taskArn)} ${detail.lastStatus ?? ''}: ${d.error.message}`,
    };
  // Rules are named by the trigger table's ids (lambdas/contract/triggers.ts).
  if (d.rule === 'DrillTaskStoppedRule') {
    const r = d.result as { finalized?: string; verdict?: string } | undefined;
    return {
      kind: 'report',
      text: `drill task ${short(detail.taskArn)} stopped: ${r?.finalized === 'finalized' ? 'drill finalized' : `drill ${r?.finalized ?? 'not finalized'}`}; reports written (verdict ${r?.verdict ?? '?'})`,
    };
  }
  if (d.rule !== 'TaskStateChangeRule') return undefined;
  const r = d.result as { outcome?: string; check?: { elected?: unknown; decision?: string; dueAt?: number } } | undefined;
  if (r?.outcome !== 'recorded') return undefined;
  const exit = detail.containers?.[0]?.exitCode;
  const status = `${detail.lastStatus}${detail.desiredStatus === 'STOPPED' && detail.lastStatus !== 'STOPPED' ? ' (stopping)' : ''}`;
  let text = `task ${short(detail.taskArn)} ${status}${detail.stopCode ? `, ${detail.stopCode}` : ''}${exit !== undefined ? `, exit ${exit}` : ''} (event version ${detail.version})`;
  if (r.check?.decision === 'wait' && r.check.dueAt) text += `: it was the primary; failover due at ${new Date(r.check.dueAt).toISOString().slice(11, 19)}`;
  return { kind: 'task', text };
}

export function describeFiring(f: ScheduleFiring): ActivityLine | undefined {
  const extra = f.coalesced ? ` (${f.coalesced} accelerated firings folded in)` : '';
  if (f.error) return { kind: 'error', text: `schedule ${f.name} failed: ${f.error.message}${extra}` };
  switch (f.name) {
    case 'retention': {
      const r = f.result as { services?: { service: string; outcome: string; deleted: number; reaped: number; error?: string }[] } | undefined;
      const s = r?.services?.[0];
      if (!s) return { kind: 'retention', text: `retention ran${extra}` };
      return {
        kind: 'retention',
        text: `retention ${s.outcome}: deleted ${s.deleted} snapshot(s)${s.reaped ? `, reaped ${s.reaped}` : ''}${s.error ? ` — ${s.error}` : ''}${extra}`,
      };
    }
    case 'drill': {
      const r = f.result as { outcome?: string; drillId?: string; snapshotId?: string; reason?: string } | undefined;
      return {
        kind: 'drill',
        text: `scheduled drill: ${r?.outcome ?? '?'} ${r?.drillId ?? ''}${r?.snapshotId ? ` on ${r.snapshotId}` : ''}${r?.reason ? ` — ${r.reason}` : ''}${extra}`,
      };
    }
    case 'snapshot': {
      const r = f.result as { outcome?: string; job?: { jobId: string; reason?: string; target?: { taskArn: string } }; reason?: string } | undefined;
      return {
        kind: r?.outcome === 'failed' || r?.outcome === 'not-started' ? 'error' : 'snapshot',
        text: `scheduled snapshot job ${r?.job?.jobId ?? ''} ${r?.outcome ?? '?'}${r?.job?.target ? ` (asked task ${short(r.job.target.taskArn)})` : ''}${r?.job?.reason || r?.reason ? `: ${r?.job?.reason ?? r?.reason}` : ''}${extra}`,
      };
    }
    case 'drill-watchdog': {
      const r = f.result as { timedOut?: { drillId: string }[] } | undefined;
      return r?.timedOut?.length ? { kind: 'drill', text: `drill watchdog: timed out ${r.timedOut.map((d) => d.drillId).join(', ')}` } : undefined;
    }
    case 'reconciler': {
      const r = f.result as { reconciled?: { recorded: number; markedMissing: number }[] } | undefined;
      const missing = (r?.reconciled ?? []).reduce((n, x) => n + x.markedMissing, 0);
      return missing ? { kind: 'task', text: `reconciler: ${missing} member(s) no longer in ECS marked stopped` } : undefined;
    }
    default:
      return undefined;
  }
}
