/**
 * Where the console's data comes from and what its buttons do. One implementation reads a
 * deployed (or local mode's) table and store with the caller's credentials; local mode adds
 * its own actions (kill the primary, damage a snapshot) and its scheduler's real firings.
 */
import { randomBytes } from 'node:crypto';
import { startDrill } from '../control/drills/start.js';
import { planServiceRetention, type ServiceRetentionPlan } from '../control/retention.js';
import { requestSnapshotJob } from '../control/snapshot-jobs.js';
import type { DrillRecord } from '../domain/drills.js';
import { UsageError } from '../domain/errors.js';
import type { ServicePolicy } from '../domain/service-policy.js';
import type { SnapshotRecord } from '../domain/snapshot.js';
import { makeJobId } from '../domain/snapshot-jobs.js';
import { drillFlows, retentionFlows, snapshotJobFlows } from '../runtime/flows.js';
import type { Runtime } from '../runtime/runtime.js';
import type { ServiceInputs } from './model.js';

export type ActionName = 'snapshot' | 'drill' | 'kill-primary' | 'damage-snapshot';

export interface ActionResult {
  /** One line for the page. */
  message: string;
  detail?: unknown;
}

export interface ConsoleBackend {
  mode: 'local' | 'aws';
  /** What the page is looking at: the table (and store). */
  label: string;
  services(): Promise<string[]>;
  read(service: string): Promise<ServiceInputs>;
  /** The actions this backend can do (shown only with actions allowed). */
  actions: readonly ActionName[];
  act(action: ActionName, service: string): Promise<ActionResult>;
  /** Local mode: recent happenings, newest last. */
  activity?(): { at: number; kind: string; text: string }[];
}

async function collect<T>(it: AsyncIterable<T>, limit = Number.POSITIVE_INFINITY): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    if (out.length >= limit) break;
  }
  return out;
}

export interface TableBackendOptions {
  /** The adapters (lambdas/runtime): the CLI's over --table/--store, or local mode's own. */
  runtime: Runtime;
  /** What the page calls the data it shows (the table, and the store if any). */
  label: string;
  /** The runtime has a store: retention keep/delete reasons are shown (without one they are not). */
  retention: boolean;
  /** Only these services (default: every service in the registry). */
  services?: readonly string[];
  /** Snapshot rows read in full (newest first); the rest only for counts. */
  snapshotRows?: number;
}

/** Reads the table and store as `lifeboat status`, `snapshots` and `retention plan` do. */
export class TableConsoleBackend implements ConsoleBackend {
  readonly mode: 'local' | 'aws' = 'aws';
  readonly actions: readonly ActionName[] = ['snapshot', 'drill'];
  readonly label: string;
  private readonly rt: Runtime;

  constructor(private readonly o: TableBackendOptions) {
    this.rt = o.runtime;
    this.label = o.label;
  }

  async services(): Promise<string[]> {
    return this.o.services ? [...this.o.services] : (await this.rt.registry.list()).sort();
  }

  async read(service: string): Promise<ServiceInputs> {
    const rt = this.rt;
    const policy = await rt.registry.get(service);
    if (!policy) throw new UsageError(`service ${service} is not protected in table ${rt.table}`, { hint: 'check --service and --table' });
    const [state, snapshots, all, drills] = await Promise.all([
      rt.coordination.readState(service),
      collect<SnapshotRecord>(rt.catalog.list(service), this.o.snapshotRows ?? 100),
      collect(rt.catalog.summaries(service)),
      collect<DrillRecord>(rt.drills.list(service, { limit: 30 }), 30),
    ]);
    const plan = this.retentionPlan(service, policy, all);
    return {
      policy,
      ...(state.lease ? { lease: state.lease } : {}),
      members: state.members,
      snapshots,
      allSnapshots: all,
      drills,
      ...(plan ? { retention: { policy: plan.policy, timezone: plan.timezone, entries: plan.snapshots } } : {}),
    };
  }

  private readonly plans = new Map<string, { key: string; at: number; plan?: ServiceRetentionPlan; running?: Promise<void> }>();

  /**
   * The retention plan (the sweep's own dry run, Object Lock lookups included) is slow with
   * many snapshots, so the page never waits for it: the last plan is shown, and a new one
   * is made in the background when the snapshots changed or it is 30 s old.
   */
  private retentionPlan(
    service: string,
    policy: ServicePolicy,
    snapshots: readonly Pick<SnapshotRecord, 'id' | 'verifiedAt'>[],
  ): ServiceRetentionPlan | undefined {
    if (!this.o.retention) return undefined;
    const key = `${snapshots.length}:${snapshots[0]?.id ?? ''}:${snapshots[snapshots.length - 1]?.id ?? ''}:${snapshots.filter((s) => s.verifiedAt).length}`;
    const entry = this.plans.get(service) ?? { key: '', at: 0 };
    this.plans.set(service, entry);
    if (!entry.running && (entry.key !== key || this.rt.now() - entry.at > 30_000)) {
      entry.running = planServiceRetention(retentionFlows(this.rt), { service, policy: policy.retention })
        .then((plan) => {
          entry.plan = plan;
          entry.key = key;
        })
        .catch(() => undefined)
        .finally(() => {
          entry.at = this.rt.now();
          entry.running = undefined;
        });
    }
    return entry.plan;
  }

  /** Resolves once no retention plan is being made (tests, and the first paint measurement). */
  async settled(): Promise<void> {
    await Promise.all([...this.plans.values()].map((e) => e.running));
  }

  async act(action: ActionName, service: string): Promise<ActionResult> {
    if (action === 'snapshot') {
      const r = await requestSnapshotJob(snapshotJobFlows(this.rt), { service, jobId: makeJobId(new Date(this.rt.now()), randomBytes(4)), trigger: 'manual' });
      return { message: `snapshot job ${r.job.jobId} ${r.outcome}${r.job.reason ? `: ${r.job.reason}` : ''}`, detail: { outcome: r.outcome, ...r.job } };
    }
    if (action === 'drill') {
      const r = await startDrill(drillFlows(this.rt), { service, trigger: 'manual' });
      return { message: `drill ${r.drill.drillId} ${r.outcome} on snapshot ${r.drill.snapshotId}`, detail: r.drill };
    }
    throw new UsageError(`action ${action} is only available in local mode`, {
      hint: "kill-primary and damage-snapshot act on local mode's own tasks and store",
    });
  }
}
