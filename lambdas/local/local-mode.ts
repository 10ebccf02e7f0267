/**
 * Local mode: the whole control plane on one machine (`lifeboat local`, `npm start`).
 *
 * What runs, and what it stands in for:
 *
 *   DynamoDB Local (java)          DynamoDB: the catalog table (persisted under the state dir)
 *   fauxqs, in process             SQS: the failover-wait queue; S3 with --ephemeral
 *   directory store                S3 for snapshots and reports, when persistent
 *   LocalTaskLauncher              ECS: the example service's tasks as child processes,
 *                                  "ECS Task State Change" events, RunTask for drills
 *   LocalEventBus                  EventBridge rules → task-events and report handlers
 *   LocalScheduler (--speed)       EventBridge Scheduler → watchdog, reconciler, retention,
 *                                  drill scheduler, drill watchdog, the service's schedules
 *   LocalQueuePoller               the SQS event source mapping → watchdog
 *   LocalDiscovery + HTTP front    Cloud Map, and a client that follows it
 *
 * The handlers are the Lambdas' own (control-plane.ts builds them with their factories);
 * nothing here decides anything about primaries, snapshots, retention or drills. What this
 * module adds is wiring, a status model for the view, and the commands a user can give
 * (kill the primary, take a snapshot, run a drill, damage a snapshot for the demo).
 */
import { Console } from 'node:console';
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { OperationFailedError, UsageError } from '../domain/errors.js';
import type { DrillRecord } from '../domain/drills.js';
import type { Lease, Member } from '../domain/membership.js';
import { normalizeServicePolicy, type ServicePolicy, type ServicePolicyInput } from '../domain/service-policy.js';
import { createDynamoClient, createS3Client, createSqsClient } from '../adapters/aws.js';
import { DynamoSnapshotCatalog, ensureCatalogTable } from '../adapters/catalog.js';
import type { SnapshotRecord } from '../domain/snapshot.js';
import { DynamoCoordinationStore } from '../adapters/coordination.js';
import { DynamoDrillStore } from '../adapters/drill-store.js';
import { SqsFailoverTimer } from '../adapters/failover-timer.js';
import { partObjectKey, reportObjectKey } from '../contract/keys.js';
import { DynamoServiceRegistry } from '../adapters/service-registry.js';
import { DynamoSnapshotHolds } from '../adapters/snapshot-holds.js';
import { openStore } from '../adapters/stores/registry.js';
import type { ObjectStore } from '../adapters/stores/store.js';
import { planServiceRetention, type ServiceRetentionPlan } from '../control/retention.js';
import { startDrill, type StartDrillResult } from '../control/drills/start.js';
import { requestSnapshotJob, type RequestOutcome } from '../control/snapshot-jobs.js';
import { makeJobId, type SnapshotJob } from '../domain/snapshot-jobs.js';
import { REPORT_FORMATS } from '../domain/report/render.js';
import { createLocalHandlers, type LocalHandlers } from './control-plane.js';
import { LocalDiscovery } from './discovery.js';
import { startEmbeddedServices, type EmbeddedServices } from './embedded-services.js';
import { LocalEventBus, type Delivery } from './event-bus.js';
import { LocalTaskLauncher, type LocalTask } from './launcher.js';
import { LocalQueuePoller } from './queue-poller.js';
import { LocalScheduler, type ScheduleFiring, type ScheduleStatus } from './scheduler.js';
import { describeDelivery, describeFiring } from './activity.js';

export const LOCAL_CLUSTER = 'local';
export const LOCAL_TABLE = 'lifeboat-local';
export const LOCAL_BUCKET = 'lifeboat-local';
export const LOCAL_QUEUE = 'lifeboat-local-failover';
export const EXAMPLE_SERVICE = 'kv';

export interface LocalModeOptions {
  /** The repository (examples/, bin/). */
  repoRoot: string;
  /** Persistent state (DynamoDB's files, the snapshot store, logs); default `.lifeboat` in the cwd. */
  stateDir?: string;
  /** Everything in memory and a temporary directory, removed on stop. */
  ephemeral?: boolean;
  /** Schedules run this many times faster than the wall clock. */
  speed?: number;
  replicas?: number;
  /** Where drill reports are copied after each drill; default `lifeboat-reports` in the cwd. */
  reportsDir?: string;
  /** Port of the local API (0: a free one). */
  apiPort?: number;
  /** Port of the example service's front (discovery); 0: a free one. */
  servicePort?: number;
  /** Use these servers instead of starting DynamoDB Local and fauxqs (tests share theirs). */
  services?: Pick<EmbeddedServices, 'env'>;
  table?: string;
  /** Progress lines while starting and stopping. */
  say?: (line: string) => void;
  /** Everything that happens, one line each (also kept for the status view). */
  onActivity?: (a: Activity) => void;
}

export interface Activity {
  at: number;
  text: string;
  kind: 'task' | 'primary' | 'snapshot' | 'retention' | 'drill' | 'report' | 'schedule' | 'error' | 'info';
}

export interface MemberStatus {
  taskArn: string;
  taskId: string;
  lastStatus: string;
  desiredStatus: string;
  role: 'primary' | 'replica' | 'leaving' | 'stopped' | 'drill';
  term?: number;
  port?: number;
  /** The task's main process, while it runs. */
  pid?: number;
  heartbeatAgeMs?: number;
  dataPosition?: number;
  exitCode?: number;
  startedAt?: string;
}

export interface LocalStatus {
  at: number;
  service: string;
  speed: number;
  ephemeral: boolean;
  store: string;
  stateDir: string;
  apiUrl?: string;
  serviceUrl?: string;
  lease?: Lease;
  discovery?: { taskArn: string; term: number; port?: number };
  members: MemberStatus[];
  snapshots: (Pick<SnapshotRecord, 'id' | 'status' | 'createdAt' | 'size' | 'verifiedAt' | 'reason' | 'term'> & { retention?: { action: string; reasons: string[] } })[];
  retention?: Pick<ServiceRetentionPlan, 'policy' | 'timezone' | 'summary'>;
  drills: Pick<DrillRecord, 'drillId' | 'status' | 'snapshotId' | 'createdAt' | 'reason' | 'rtoSeconds' | 'rpoSeconds' | 'trigger'>[];
  schedules: ScheduleStatus[];
  activity: Activity[];
  reports: string[];
}

/** The example service's task definition, run the same way its container would run. */
function examplePolicy(raw: ServicePolicyInput): ServicePolicy {
  return normalizeServicePolicy({
    ...raw,
    // Where the service runs: local mode's cluster and task definition (EC2-like, no subnets).
    ecs: { cluster: LOCAL_CLUSTER, taskDefinition: EXAMPLE_SERVICE, containerName: EXAMPLE_SERVICE, launchType: 'EC2', ...(raw.ecs ?? {}) },
    discovery: { serviceId: `local-${EXAMPLE_SERVICE}`, ...(raw.discovery ?? {}) },
  });
}

export class LocalMode {
  private readonly activityLog: Activity[] = [];
  private closers: { name: string; close: () => Promise<void> | void }[] = [];
  private stopping: Promise<void> | undefined;
  private statusCache: { at: number; value: Promise<LocalStatus> } | undefined;
  private handlers!: LocalHandlers;
  private launcher!: LocalTaskLauncher;
  private scheduler!: LocalScheduler;
  private bus!: LocalEventBus;
  private discovery!: LocalDiscovery;
  private store!: ObjectStore;
  private policy!: ServicePolicy;
  private env: Record<string, string> = {};
  private controlLog: WriteStream | undefined;
  readonly stateDir: string;
  readonly reportsDir: string;
  readonly table: string;
  readonly speed: number;
  readonly ephemeral: boolean;
  storeUrl = '';
  apiUrl: string | undefined;
  serviceUrl: string | undefined;

  private constructor(private readonly o: LocalModeOptions, stateDir: string) {
    this.stateDir = stateDir;
    this.reportsDir = resolve(o.reportsDir ?? 'lifeboat-reports');
    this.table = o.table ?? LOCAL_TABLE;
    this.speed = o.speed ?? 1;
    this.ephemeral = o.ephemeral ?? false;
  }

  private say(line: string): void {
    this.o.say?.(line);
  }

  activity(kind: Activity['kind'], text: string): void {
    const a = { at: Date.now(), kind, text };
    this.activityLog.push(a);
    if (this.activityLog.length > 200) this.activityLog.shift();
    this.o.onActivity?.(a);
  }

  /** Starts everything; on failure, stops what was started and rethrows. */
  static async start(o: LocalModeOptions): Promise<LocalMode> {
    if (o.speed !== undefined && !(o.speed > 0)) throw new UsageError(`--speed must be a positive number, not ${o.speed}`);
    const stateDir = o.ephemeral ? await mkdtemp(join(tmpdir(), 'lifeboat-local-')) : resolve(o.stateDir ?? '.lifeboat');
    const mode = new LocalMode(o, stateDir);
    try {
      await mode.boot();
      return mode;
    } catch (err) {
      await mode.stop();
      throw err;
    }
  }

  private onClose(name: string, close: () => Promise<void> | void): void {
    this.closers.push({ name, close });
  }

  private async boot(): Promise<void> {
    const o = this.o;
    const state = this.stateDir;
    if (this.ephemeral) this.onClose('temporary state directory', () => rm(state, { recursive: true, force: true }));
    await mkdir(join(state, 'logs'), { recursive: true });
    this.controlLog = createWriteStream(join(state, 'logs', 'control-plane.log'), { flags: 'a' });
    const controlLog = this.controlLog;
    this.onClose('control-plane log', () => new Promise<void>((r) => controlLog.end(r)));

    // 1. Embedded AWS services.
    let services = o.services;
    if (!services) {
      this.say(this.ephemeral ? 'starting DynamoDB Local (java, in memory) and fauxqs (S3 + SQS) on loopback' : `starting DynamoDB Local (java; tables kept in ${join(state, 'dynamodb')}) and fauxqs (SQS) on loopback`);
      const started = await startEmbeddedServices({ ...(this.ephemeral ? {} : { dynamoDbPath: join(state, 'dynamodb') }), detached: true });
      this.onClose('DynamoDB Local and fauxqs', () => started.stop());
      services = started;
      this.say(`DynamoDB: ${started.dynamoEndpoint}  S3/SQS: ${started.s3Endpoint}`);
    }
    this.env = { ...services.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const env = this.env;

    // 2. Table, store, queue.
    const created = await ensureCatalogTable(new DynamoDBClient({ endpoint: env.AWS_ENDPOINT_URL_DYNAMODB, region: env.AWS_REGION, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! } }), this.table);
    this.say(`table ${this.table}: ${created === 'created' ? 'created' : 'found (state from an earlier run)'}`);
    this.storeUrl = this.ephemeral ? `s3://${this.table === LOCAL_TABLE ? LOCAL_BUCKET : this.table.toLowerCase()}/` : `file://${join(state, 'store')}`;
    this.store = openStore(this.storeUrl, () => createS3Client(env));
    await this.store.ensure();
    this.say(`snapshot store: ${this.storeUrl}${this.ephemeral ? ' (in memory)' : ''}`);
    const sqs = createSqsClient(env);
    const { queueUrl, queueArn } = await createQueue(sqs, this.table === LOCAL_TABLE ? LOCAL_QUEUE : `${this.table}-failover`);
    env.LIFEBOAT_FAILOVER_QUEUE_URL = queueUrl;

    // 3. The example service's policy.
    const repo = o.repoRoot;
    const raw = JSON.parse(await readFile(join(repo, 'examples/kv/lifeboat-policy.json'), 'utf8')) as ServicePolicyInput;
    this.policy = examplePolicy(raw);
    const dynamo = createDynamoClient(env);
    await new DynamoServiceRegistry(dynamo, this.table).put(this.policy);
    const p = this.policy;
    this.say(
      `protected service ${p.service}: ${o.replicas ?? 3} replicas, failover after ${p.failover.timeoutSeconds} s, snapshots ${p.snapshot.schedule ?? 'on demand'}, ` +
        `retention ${p.retention.schedule ?? '-'}, drills ${p.drill.schedule ?? 'on demand'}${p.drill.timezone ? ` (${p.drill.timezone})` : ''}`,
    );

    // 4. What tasks run: the example's entrypoint, with `lifeboat`, `kv-server` and `kv-ctl` on PATH.
    const bin = await writeShims(repo, join(state, 'bin'));
    const taskEnv: Record<string, string> = {
      ...env,
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: process.env.HOME ?? state,
      LIFEBOAT_TABLE: this.table,
      LIFEBOAT_STORE: this.storeUrl,
      LIFEBOAT_SERVICE: p.service,
    };

    // 5. The control plane: handlers over local adapters.
    const logger = new Logger({ serviceName: 'lifeboat', logLevel: 'INFO' });
    // Powertools writes to stdout, which the status view owns: send handler logs to a file.
    Object.assign(logger, { console: new Console({ stdout: controlLog, stderr: controlLog }) });
    this.discovery = new LocalDiscovery((record) => this.activity('primary', `discovery → task ${shortTask(record.taskArn)} (term ${record.term})`));
    this.bus = new LocalEventBus({ onDelivery: (d) => this.onDelivery(d) });
    this.launcher = new LocalTaskLauncher({
      cluster: LOCAL_CLUSTER,
      workDir: join(state, 'tasks'),
      logDir: join(state, 'logs'),
      baseEnv: taskEnv,
      emit: (event) => this.bus.put(event),
      onNotice: (line) => this.activity('error', line),
    });
    this.handlers = createLocalHandlers({
      table: this.table,
      env,
      store: this.store,
      ecs: this.launcher,
      discovery: this.discovery,
      timer: new SqsFailoverTimer(sqs, queueUrl),
      logger,
    });
    const h = this.handlers;
    const clusterArn = this.launcher.clusterArn;
    // The rules the construct deploys (lib/private/handlers.ts): every task state change of the
    // cluster to task-events; drill tasks' STOPPED to the report handler.
    this.bus.addRule({ name: 'task-events', pattern: { source: ['aws.ecs'], 'detail-type': ['ECS Task State Change'], detail: { clusterArn: [clusterArn] } }, target: (e) => h.taskEvents(e) });
    this.bus.addRule({
      name: 'drill-report',
      pattern: { source: ['aws.ecs'], 'detail-type': ['ECS Task State Change'], detail: { clusterArn: [clusterArn], startedBy: [{ prefix: 'drill-' }], lastStatus: ['STOPPED'] } },
      target: async (e) => {
        const r = await h.report(e);
        await this.exportReports(r.keys);
        return r;
      },
    });
    this.onClose('event bus', () => this.bus.close());
    const poller = new LocalQueuePoller({ client: sqs, queueUrl, queueArn, target: async (e) => this.logged('watchdog (queue)', await h.watchdog(e)), onError: (err) => this.activity('error', `failover queue: ${err.message}`) });
    poller.start();
    this.onClose('failover queue poller', () => poller.stop());

    // 6. Schedules: the control plane's own and the service's — the triggers of lib/private/handlers.ts.
    this.scheduler = new LocalScheduler({ speed: this.speed, onFiring: (f) => this.onFiring(f) });
    const s = this.scheduler;
    s.add({ name: 'watchdog', expression: 'rate(1 minute)', target: (e) => h.watchdog(e), input: (t) => scheduledEvent('watchdog', t) });
    s.add({ name: 'reconciler', expression: 'rate(5 minutes)', target: (e) => h.reconciler(e), input: (t) => scheduledEvent('reconciler', t) });
    s.add({ name: 'drill-watchdog', expression: 'rate(5 minutes)', target: (e) => h.drillWatchdog(e), input: (t) => scheduledEvent('drill-watchdog', t) });
    s.add({ name: 'snapshot-watch', expression: 'rate(5 minutes)', target: (e) => h.snapshotWatch(e), input: (t) => scheduledEvent('snapshot-watch', t) });
    if (this.speed !== 1) this.say(`schedules run ${this.speed}× faster than the clock (--speed ${this.speed})`);

    // 7. Servers: the service's front (discovery) and the local API.
    this.serviceUrl = await this.discovery.serveFront(`local-${p.service}`, (arn) => this.launcher.get(arn)?.port, o.servicePort ?? 0);
    this.onClose('service front', () => this.discovery.close());

    // 8. The service itself. Shutdown stops its tasks first, while the handlers can still record it.
    this.closers.push({ name: 'tasks', close: () => this.launcher.shutdown() });
    this.launcher.registerTaskDefinition({
      family: p.service,
      revision: 1,
      containerName: p.service,
      command: ['/bin/sh', join(repo, 'examples/kv/entrypoint.sh')],
      environment: (task) => ({ KV_DIR: join(task.dir, 'data'), KV_PORT: String(task.port), KV_ROLE_FILE: join(task.dir, 'role') }),
      stopTimeoutSeconds: 10,
    });
    // Members left by an earlier run are not running any more: the reconciler finds that out.
    void s.fireNow('reconciler').catch(() => undefined);
    this.say(`launching ${o.replicas ?? 3} tasks of ${p.service} (each: lifeboat agent --restore … -- kv-server)`);
    await this.launcher.createService({ name: p.service, taskDefinition: p.service, desiredCount: o.replicas ?? 3, replaceAfterMs: 2000 });
    // Stopped first: no schedule may start a drill or a snapshot while the tasks go away.
    this.onClose('scheduler', () => this.scheduler.stop());
    // The service's own schedules start once it has a primary, as they would once a service
    // is deployed and running; otherwise the first snapshot (rate schedules fire at once)
    // would only find no primary, and the next one come a whole period later.
    const serviceSchedules = () => {
      if (p.retention.schedule) s.add({ name: 'retention', expression: p.retention.schedule, timezone: p.retention.timezone, target: (e) => h.retention(e), input: () => ({ service: p.service }) });
      if (p.drill.schedule) s.add({ name: 'drill', expression: p.drill.schedule, timezone: p.drill.timezone, target: (e) => h.drillScheduler(e), input: (t) => ({ service: p.service, scheduledTime: t.toISOString() }) });
      if (p.snapshot.schedule) s.add({ name: 'snapshot', expression: p.snapshot.schedule, timezone: p.snapshot.timezone, target: (e) => h.snapshotScheduler(e), input: (t) => ({ service: p.service, scheduledTime: t.toISOString() }) });
    };
    void this.whenPrimary(60_000).then((found) => {
      if (this.stopping) return;
      if (!found) this.activity('error', 'no primary after 60 s; starting the service schedules anyway');
      serviceSchedules();
      this.activity('schedule', `service schedules started: snapshot ${p.snapshot.schedule ?? '-'}, retention ${p.retention.schedule ?? '-'}, drill ${p.drill.schedule ?? '-'}`);
    });
  }

  /** Resolves true once the service has a primary, false after `timeoutMs`. */
  private async whenPrimary(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.stopping) {
      const { lease } = await this.coordination().readState(this.service).catch(() => ({ lease: undefined }));
      if (lease) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    return false;
  }

  /** Serves the local API (api.ts) and remembers its URL. */
  setApiUrl(url: string, close: () => Promise<void>): void {
    this.apiUrl = url;
    this.onClose('local API', close);
  }

  get service(): string {
    return this.policy.service;
  }

  get servicePolicy(): ServicePolicy {
    return this.policy;
  }

  get environment(): Record<string, string> {
    return { ...this.env, LIFEBOAT_TABLE: this.table, LIFEBOAT_STORE: this.storeUrl };
  }

  private logged<T>(what: string, result: T): T {
    const r = result as { checked?: { elected?: { lease: Lease; reason: string; lostAt: number } }[] };
    for (const c of r.checked ?? []) if (c.elected) this.activity('primary', describeElection(c.elected, what));
    return result;
  }

  private onDelivery(d: Delivery): void {
    const line = describeDelivery(d);
    if (line) this.activity(line.kind, line.text);
  }

  private onFiring(f: ScheduleFiring): void {
    this.logged(f.name, f.result);
    const line = describeFiring(f);
    if (line) this.activity(line.kind, line.text);
  }

  // --- commands ------------------------------------------------------------------------

  private coordination() {
    return new DynamoCoordinationStore(createDynamoClient(this.env), this.table);
  }

  /** Kills the primary's task at once (SIGKILL to its processes), like a crash. */
  async killPrimary(): Promise<{ taskArn: string; term: number; at: number }> {
    const { lease } = await this.coordination().readState(this.service);
    const task = lease ? this.launcher.get(lease.holder) : undefined;
    if (!lease || !task?.child) throw new OperationFailedError('there is no running primary to kill yet', { hint: 'wait until a primary is elected (the status view shows it)' });
    const at = Date.now();
    this.launcher.kill(lease.holder);
    this.activity('task', `killed the primary, task ${shortTask(lease.holder)} (term ${lease.term}), with SIGKILL`);
    return { taskArn: lease.holder, term: lease.term, at };
  }

  /**
   * A manual snapshot job (the schedule's goes through the snapshot-scheduler handler):
   * the primary's agent gets a `snapshot` command with its next heartbeat and takes the
   * snapshot under its term, the policy's pre/post hooks pausing and resuming the service.
   */
  async requestSnapshot(): Promise<RequestOutcome> {
    const r = await requestSnapshotJob(this.handlers.snapshotJobs, { service: this.service, jobId: makeJobId(new Date(), randomBytes(4)), trigger: 'manual' });
    this.activity(r.outcome === 'failed' ? 'error' : 'snapshot', `snapshot job ${r.job.jobId} ${r.outcome}${r.job.target ? ` (asked task ${shortTask(r.job.target.taskArn)}, term ${r.job.target.term})` : ''}${r.job.reason ? `: ${r.job.reason}` : ''}`);
    return r;
  }

  /** A snapshot job's record, to follow it. */
  async snapshotJob(jobId: string): Promise<SnapshotJob | undefined> {
    return this.handlers.snapshotJobs.jobs.get(this.service, jobId);
  }

  /** Starts a restore drill (the same workflow as `lifeboat drill`). */
  async drill(snapshot?: string): Promise<StartDrillResult> {
    const r = await startDrill(this.handlers.drillDeps, { service: this.service, ...(snapshot ? { snapshot } : {}), trigger: 'manual' });
    this.activity('drill', `drill ${r.drill.drillId} started on snapshot ${r.drill.snapshotId} (${r.outcome})`);
    return r;
  }

  /** Runs a schedule now (e.g. retention), as if its time had come; returns what its target returned. */
  async runSchedule(name: string): Promise<ScheduleFiring> {
    return this.scheduler.fireNow(name);
  }

  /**
   * Damages a stored snapshot for the demo: flips one byte in the middle of its first
   * archive part, as bit rot or a bad copy would. The catalog still says complete; only a
   * restore (a drill) can find out.
   */
  async corruptSnapshot(snapshotId?: string): Promise<{ snapshotId: string; key: string }> {
    const catalog = new DynamoSnapshotCatalog(createDynamoClient(this.env), this.table);
    const record = snapshotId ? await catalog.get(this.service, snapshotId) : await catalog.latest(this.service);
    if (!record) throw new UsageError(snapshotId ? `no snapshot ${snapshotId}` : 'there is no complete snapshot to damage yet');
    let key = partObjectKey(this.service, record.id, 0, 'zstd');
    if (!(await this.store.head(key))) key = partObjectKey(this.service, record.id, 0, 'none');
    const chunks: Buffer[] = [];
    for await (const c of await this.store.get(key)) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0xff;
    await this.store.put(key, Readable.from([bytes]));
    this.activity('snapshot', `damaged snapshot ${record.id}: flipped one byte of ${key.split('/').pop()}`);
    return { snapshotId: record.id, key };
  }

  /** Copies the reports the report handler wrote to the store into the reports directory. */
  private async exportReports(keys: string[]): Promise<void> {
    await mkdir(this.reportsDir, { recursive: true });
    for (const key of keys) {
      const rel = key.replace(/^_reports\/drills\/(all\/)?/, '').replace(/^service\//, '');
      const target = join(this.reportsDir, rel);
      await mkdir(dirname(target), { recursive: true });
      const chunks: Buffer[] = [];
      for await (const c of await this.store.get(key)) chunks.push(c as Buffer);
      await writeFile(target, Buffer.concat(chunks));
    }
    this.activity('report', `drill reports written to ${this.reportsDir} (${REPORT_FORMATS.join(', ')})`);
  }

  /** Report files in the reports directory, relative paths. */
  reportFiles(): string[] {
    return REPORT_FORMATS.map((f) => reportObjectKey(f).split('/').pop()!);
  }

  tasks(): LocalTask[] {
    return this.launcher.list();
  }

  /** The scheduler's schedules and their next firings (the web console shows them). */
  schedules(): ScheduleStatus[] {
    return this.scheduler.status();
  }

  /** Recent activity, oldest first (the web console shows it). */
  recentActivity(): Activity[] {
    return [...this.activityLog];
  }

  // --- status --------------------------------------------------------------------------

  /** The status view's model; computed at most once a second. */
  status(): Promise<LocalStatus> {
    const now = Date.now();
    if (!this.statusCache || now - this.statusCache.at >= 1000) {
      const value = this.computeStatus();
      // A failed read is not cached.
      value.catch(() => (this.statusCache = undefined));
      this.statusCache = { at: now, value };
    }
    return this.statusCache.value;
  }

  private async computeStatus(): Promise<LocalStatus> {
    const dynamo = createDynamoClient(this.env);
    const service = this.service;
    const catalog = new DynamoSnapshotCatalog(dynamo, this.table);
    const [state, snapshots, drills, plan] = await Promise.all([
      this.coordination().readState(service),
      collect(catalog.list(service), 12),
      collect(new DynamoDrillStore(dynamo, this.table).list(service, { limit: 8 }), 8),
      planServiceRetention({ catalog, store: this.store, holds: new DynamoSnapshotHolds(dynamo, this.table) }, { service, policy: this.policy.retention }).catch(() => undefined),
    ]);
    const now = Date.now();
    const byArn = new Map<string, Member>(state.members.map((m) => [m.taskArn, m]));
    const members: MemberStatus[] = this.launcher
      .list()
      .filter((t) => t.lastStatus !== 'STOPPED' || now - Date.parse(t.stoppedAt ?? t.createdAt) < 60_000)
      .map((t) => {
        const m = byArn.get(t.taskArn);
        const drill = t.startedBy.startsWith('drill-');
        const role: MemberStatus['role'] = drill ? 'drill' : t.lastStatus === 'STOPPED' ? 'stopped' : m?.goneAt !== undefined ? 'leaving' : state.lease?.holder === t.taskArn && m?.primaryTerm !== undefined ? 'primary' : 'replica';
        return {
          taskArn: t.taskArn,
          taskId: t.taskId,
          lastStatus: t.lastStatus,
          desiredStatus: t.desiredStatus,
          role,
          ...(role === 'primary' ? { term: state.lease!.term } : {}),
          port: t.port,
          ...(t.child?.pid !== undefined ? { pid: t.child.pid } : {}),
          ...(m?.heartbeatAt !== undefined ? { heartbeatAgeMs: now - m.heartbeatAt } : {}),
          ...(m?.dataPosition !== undefined ? { dataPosition: m.dataPosition } : {}),
          ...(t.exitCode !== undefined ? { exitCode: t.exitCode } : {}),
          ...(t.startedAt ? { startedAt: t.startedAt } : {}),
        };
      });
    const planById = new Map((plan?.snapshots ?? []).map((e) => [e.id, e]));
    const published = this.discovery.lookup(`local-${service}`);
    return {
      at: now,
      service,
      speed: this.speed,
      ephemeral: this.ephemeral,
      store: this.storeUrl,
      stateDir: this.stateDir,
      ...(this.apiUrl ? { apiUrl: this.apiUrl } : {}),
      ...(this.serviceUrl ? { serviceUrl: this.serviceUrl } : {}),
      ...(state.lease ? { lease: state.lease } : {}),
      ...(published ? { discovery: { taskArn: published.taskArn, term: published.term, port: this.launcher.get(published.taskArn)?.port } } : {}),
      members,
      snapshots: snapshots.map((r) => {
        const e = planById.get(r.id);
        return { id: r.id, status: r.status, createdAt: r.createdAt, size: r.size, verifiedAt: r.verifiedAt, reason: r.reason, term: r.term, ...(e ? { retention: { action: e.action, reasons: e.reasons } } : {}) };
      }),
      ...(plan ? { retention: { policy: plan.policy, timezone: plan.timezone, summary: plan.summary } } : {}),
      drills: drills.map((d) => ({ drillId: d.drillId, status: d.status, snapshotId: d.snapshotId, createdAt: d.createdAt, reason: d.reason, rtoSeconds: d.rtoSeconds, rpoSeconds: d.rpoSeconds, trigger: d.trigger })),
      schedules: this.scheduler.status(),
      activity: this.activityLog.slice(-12),
      reports: this.reportFiles().map((f) => join(this.reportsDir, f)),
    };
  }

  // --- stop ----------------------------------------------------------------------------

  /**
   * Stops everything it started, newest first: tasks (their STOPPED events still reach the
   * handlers), servers, the scheduler, the queue poller, the event bus, then DynamoDB Local.
   * Safe to call twice; errors are reported and the rest still stops.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const c of [...this.closers].reverse()) {
        this.say(`stopping ${c.name}`);
        try {
          await c.close();
        } catch (err) {
          this.say(`could not stop ${c.name} cleanly: ${(err as Error).message}`);
        }
      }
      this.closers = [];
    })();
    return this.stopping;
  }
}

async function createQueue(sqs: SQSClient, name: string): Promise<{ queueUrl: string; queueArn: string }> {
  const q = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '30' } }));
  const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.QueueUrl, AttributeNames: ['QueueArn'] }));
  return { queueUrl: q.QueueUrl!, queueArn: a.Attributes?.QueueArn ?? `arn:aws:sqs:us-east-1:000000000000:${name}` };
}

function scheduledEvent(rule: string, t: Date) {
  return { version: '0', id: `local-${rule}-${t.getTime()}`, 'detail-type': 'Scheduled Event', source: 'aws.events', account: '000000000000', time: t.toISOString().replace(/\.\d{3}Z$/, 'Z'), region: 'us-east-1', resources: [`arn:aws:events:us-east-1:000000000000:rule/lifeboat-${rule}`], detail: {} };
}

export function shortTask(taskArn: string): string {
  return taskArn.split('/').pop()!.slice(0, 8);
}

function describeElection(e: { lease: Lease; reason: string; lostAt: number }, by: string): string {
  const after = e.reason === 'failover' ? `, ${((e.lease.electedAt - e.lostAt) / 1000).toFixed(1)} s after the old one was lost` : '';
  return `primary elected: task ${shortTask(e.lease.holder)}, term ${e.lease.term} (${e.reason}, by the ${by}${after})`;
}

async function collect<T>(it: AsyncIterable<T>, limit: number): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * `lifeboat`, `kv-server` and `kv-ctl` as commands on the tasks' PATH, as they would be in
 * the service's container image: each runs this repository's TypeScript through tsx.
 */
async function writeShims(repo: string, bin: string): Promise<string> {
  await mkdir(bin, { recursive: true });
  const tsx = fileURLToPath(import.meta.resolve('tsx'));
  const shims: Record<string, string> = {
    lifeboat: join(repo, 'bin/lifeboat.ts'),
    'kv-server': join(repo, 'examples/kv/server.ts'),
    'kv-ctl': join(repo, 'examples/kv/kv-ctl.ts'),
  };
  for (const [name, script] of Object.entries(shims)) {
    const path = join(bin, name);
    await writeFile(path, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(`file://${tsx}`)} ${JSON.stringify(script)} "$@"\n`);
    await chmod(path, 0o755);
  }
  return bin;
}

