/**
 * Where the console's data comes from and what its buttons do. One implementation reads a
 * deployed (or local mode's) table and store with the caller's credentials; local mode adds
 * its own actions (kill the primary, damage a snapshot) and its scheduler's real firings.
 */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../domain/errors.js';
import { makeJobId } from '../domain/snapshot-jobs.js';
import type { DrillRecord } from '../domain/drills.js';
import type { SnapshotRecord } from '../domain/snapshot.js';
import { createDynamoClient, createEcsClient, createS3Client } from '../adapters/aws.js';
import { DynamoSnapshotCatalog } from '../adapters/catalog.js';
import { DynamoCoordinationStore } from '../adapters/coordination.js';
import { DynamoDrillStore } from '../adapters/drill-store.js';
import { EcsTaskLauncher, type TaskLauncher } from '../adapters/ecs-launcher.js';
import { DynamoJobStore } from '../adapters/job-store.js';
import { DynamoServiceRegistry } from '../adapters/service-registry.js';
import { DynamoSnapshotHolds } from '../adapters/snapshot-holds.js';
import { openStore } from '../adapters/stores/registry.js';
import type { ObjectStore } from '../adapters/stores/store.js';
import { planServiceRetention, type ServiceRetentionPlan } from '../control/retention.js';
import type { ServicePolicy } from '../domain/service-policy.js';
import { requestSnapshotJob } from '../control/snapshot-jobs.js';
import { startDrill } from '../control/drills/start.js';
import type { ScheduleView, ServiceInputs } from './model.js';

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
  env: Record<string, string | undefined>;
  table: string;
  /** s3://bucket/prefix or file:///path; without it, retention reasons are not shown. */
  store?: string;
  /** Only these services (default: every service in the registry). */
  services?: readonly string[];
  /** Local mode's scheduler: the real next firings. */
  schedules?: (service: string) => ScheduleView[] | undefined;
  ports?: () => ReadonlyMap<string, number>;
  launcher?: TaskLauncher;
  /** Snapshot rows read in full (newest first); the rest only for counts. */
  snapshotRows?: number;
}

/** Reads the table and store as `lifeboat status`, `snapshots` and `retention plan` do. */
export class TableConsoleBackend implements ConsoleBackend {
  readonly mode: 'local' | 'aws' = 'aws';
  readonly actions: readonly ActionName[] = ['snapshot', 'drill'];
  readonly label: string;
  private readonly dynamo;
  private readonly store: ObjectStore | undefined;

  constructor(private readonly o: TableBackendOptions) {
    this.dynamo = createDynamoClient(o.env);
    this.store = o.store ? openStore(o.store, () => createS3Client(o.env)) : undefined;
    this.label = `table ${o.table}${o.store ? `, store ${o.store}` : ''}`;
  }

  private registry() {
    return new DynamoServiceRegistry(this.dynamo, this.o.table);
  }

  async services(): Promise<string[]> {
    return this.o.services ? [...this.o.services] : (await this.registry().list()).sort();
  }

  async read(service: string): Promise<ServiceInputs> {
    const policy = await this.registry().get(service);
    if (!policy) throw new UsageError(`service ${service} is not protected in table ${this.o.table}`, { hint: 'check --service and --table' });
    const catalog = new DynamoSnapshotCatalog(this.dynamo, this.o.table);
    const [state, snapshots, all, drills] = await Promise.all([
      new DynamoCoordinationStore(this.dynamo, this.o.table).readState(service),
      collect<SnapshotRecord>(catalog.list(service), this.o.snapshotRows ?? 100),
      collect(catalog.summaries(service)),
      collect<DrillRecord>(new DynamoDrillStore(this.dynamo, this.o.table).list(service, { limit: 30 }), 30),
    ]);
    const plan = this.retentionPlan(service, policy, all);
    const schedules = this.o.schedules?.(service);
    const ports = this.o.ports?.();
    return {
      policy,
      ...(state.lease ? { lease: state.lease } : {}),
      members: state.members,
      snapshots,
      allSnapshots: all,
      drills,
      ...(plan ? { retention: { policy: plan.policy, timezone: plan.timezone, entries: plan.snapshots } } : {}),
      ...(schedules ? { schedules } : {}),
      ...(ports ? { ports } : {}),
    };
  }

  private readonly plans = new Map<string, { key: string; at: number; plan?: ServiceRetentionPlan; running?: Promise<void> }>();

  /**
   * The retention plan (the sweep's own dry run, Object Lock lookups included) is slow with
   * many snapshots, so the page never waits for it: the last plan is shown, and a new one
   * is made in the background when the snapshots changed or it is 30 s old.
   */
  private retentionPlan(service: string, policy: ServicePolicy, snapshots: readonly Pick<SnapshotRecord, 'id' | 'verifiedAt'>[]): ServiceRetentionPlan | undefined {
    const store = this.store;
    if (!store) return undefined;
    const key = `${snapshots.length}:${snapshots[0]?.id ?? ''}:${snapshots[snapshots.length - 1]?.id ?? ''}:${snapshots.filter((s) => s.verifiedAt).length}`;
    const entry = this.plans.get(service) ?? { key: '', at: 0 };
    this.plans.set(service, entry);
    if (!entry.running && (entry.key !== key || Date.now() - entry.at > 30_000)) {
      const catalog = new DynamoSnapshotCatalog(this.dynamo, this.o.table);
      entry.running = planServiceRetention({ catalog, store, holds: new DynamoSnapshotHolds(this.dynamo, this.o.table) }, { service, policy: policy.retention })
        .then((plan) => {
          entry.plan = plan;
          entry.key = key;
        })
        .catch(() => undefined)
        .finally(() => {
          entry.at = Date.now();
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
    const registry = this.registry();
    if (action === 'snapshot') {
      const coordination = new DynamoCoordinationStore(this.dynamo, this.o.table);
      const r = await requestSnapshotJob(
        { policy: (s) => registry.get(s), jobs: new DynamoJobStore(this.dynamo, this.o.table), coordination, launcher: this.launcher(), now: () => Date.now() },
        { service, jobId: makeJobId(new Date(), randomBytes(4)), trigger: 'manual' },
      );
      return { message: `snapshot job ${r.job.jobId} ${r.outcome}${r.job.reason ? `: ${r.job.reason}` : ''}`, detail: r };
    }
    if (action === 'drill') {
      const r = await startDrill(
        { drills: new DynamoDrillStore(this.dynamo, this.o.table), catalog: new DynamoSnapshotCatalog(this.dynamo, this.o.table), registry, launcher: this.launcher() },
        { service, trigger: 'manual' },
      );
      return { message: `drill ${r.drill.drillId} ${r.outcome} on snapshot ${r.drill.snapshotId}`, detail: r.drill };
    }
    throw new UsageError(`action ${action} is only available in local mode`);
  }

  private launcher(): TaskLauncher {
    return this.o.launcher ?? new EcsTaskLauncher(createEcsClient(this.o.env));
  }
}
