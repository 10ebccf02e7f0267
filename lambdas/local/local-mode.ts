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
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createDynamoBaseClient, createSqsClient } from '../adapters/aws.js';
import { ensureCatalogTable } from '../adapters/catalog.js';
import type { ObjectStore } from '../adapters/stores/store.js';
import { ENV } from '../contract/environment.js';
import { isManifestV2Key, packObjectKey, partObjectKey, reportObjectKey } from '../contract/keys.js';
import { HANDLER_IDS, type HandlerId } from '../contract/triggers.js';
import { type StartDrillResult, startDrill } from '../control/drills/start.js';
import { planServiceRetention, type ServiceRetentionPlan } from '../control/retention.js';
import { type RequestOutcome, requestSnapshotJob } from '../control/snapshot-jobs.js';
import { type DrillRecord, formatSeconds, isDrillTask } from '../domain/drills.js';
import { OperationFailedError, UsageError } from '../domain/errors.js';
import { type Lease, type Member, TERM_CAUSE_TEXT } from '../domain/membership.js';
import { REPORT_FORMATS } from '../domain/report/render.js';
import { normalizeServicePolicy, type ServicePolicy, type ServicePolicyInput } from '../domain/service-policy.js';
import type { SnapshotRecord } from '../domain/snapshot.js';
import { makeJobId, type SnapshotJob } from '../domain/snapshot-jobs.js';
import { fetchManifestV2, loadIndex } from '../engine/v2/repo.js';
import { retentionFlows } from '../runtime/flows.js';
import { createRuntime, type Runtime } from '../runtime/runtime.js';
import { describeDelivery, describeFiring } from './activity.js';
import { createLocalHandlers, type LocalHandlers, quietMetrics } from './control-plane.js';
import { LocalDiscovery } from './discovery.js';
import { type EmbeddedServices, startEmbeddedServices } from './embedded-services.js';
import { type EventPattern as BusPattern, type Delivery, LocalEventBus } from './event-bus.js';
import { drillChecksStatus, localExample } from './examples.js';
import { type LocalTask, LocalTaskLauncher } from './launcher.js';
import { ensureDirectory, ProcessLedger, StateDirectoryLock } from './process-guard.js';
import { LocalQueuePoller } from './queue-poller.js';
import { LocalScheduler, type ScheduleFiring, type ScheduleStatus } from './scheduler.js';
import { type LocalSchedule, type LocalWiring, localWiring } from './wiring.js';

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
  /** Which example service runs (lambdas/local/examples.ts); default kv. */
  example?: string;
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
  snapshots: (Pick<SnapshotRecord, 'id' | 'status' | 'createdAt' | 'size' | 'verifiedAt' | 'suspectAt' | 'reason' | 'term'> & {
    retention?: { action: string; reasons: string[] };
  })[];
  retention?: Pick<ServiceRetentionPlan, 'policy' | 'timezone' | 'summary'>;
  drills: Pick<DrillRecord, 'drillId' | 'status' | 'snapshotId' | 'createdAt' | 'reason' | 'rtoSeconds' | 'rpoSeconds' | 'trigger'>[];
  /** The policy's recipe and drill checks, with the newest finished drill's result of each (lambdas/local/examples.ts). */
  checks?: { recipe?: string; items: { name: string; type: string; status?: string; durationSeconds?: number; message?: string }[] };
  schedules: ScheduleStatus[];
  activity: Activity[];
  reports: string[];
}

/** The example service's task definition, run the same way its container would run. */
export function examplePolicy(raw: ServicePolicyInput): ServicePolicy {
  const name = raw.service ?? EXAMPLE_SERVICE;
  return normalizeServicePolicy({
    ...raw,
    // Where the service runs: local mode's cluster and task definition (EC2-like, no subnets).
    ecs: { cluster: LOCAL_CLUSTER, taskDefinition: name, containerName: name, launchType: 'EC2', ...(raw.ecs ?? {}) },
    discovery: { serviceId: `local-${name}`, ...(raw.discovery ?? {}) },
  });
}

/** The file in the state directory that `lifeboat local env` prints. */
export const LOCAL_ENV_FILE = 'env';

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
  private objects!: ObjectStore;
  private rt!: Runtime;
  private wiring!: LocalWiring;
  private policy!: ServicePolicy;
  private env: Record<string, string> = {};
  private controlLog: WriteStream | undefined;
  private ledger: ProcessLedger | undefined;
  readonly stateDir: string;
  readonly reportsDir: string;
  readonly table: string;
  readonly speed: number;
  readonly ephemeral: boolean;
  storeUrl = '';
  apiUrl: string | undefined;
  serviceUrl: string | undefined;

  private constructor(
    private readonly o: LocalModeOptions,
    stateDir: string,
  ) {
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
    const stateDir = o.ephemeral ? await mkdtemp(join(tmpdir(), 'lifeboat-local-')) : await ensureDirectory(o.stateDir ?? '.lifeboat');
    const mode = new LocalMode(o, stateDir);
    try {
      await mode.guard();
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

  /** One run per state directory; what a crashed run left running is stopped first (process-guard.ts). */
  private async guard(): Promise<void> {
    const lock = await StateDirectoryLock.acquire(this.stateDir, (err) => this.activity('error', `lost the lock on ${this.stateDir}: ${err.message}`));
    this.onClose('state directory lock', () => lock.unlock());
    this.ledger = new ProcessLedger(join(this.stateDir, 'processes'));
    const reaped = await this.ledger.reap();
    if (reaped) this.say(`stopped ${reaped} process${reaped === 1 ? '' : 'es'} an earlier run left behind`);
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
      this.say(
        this.ephemeral
          ? 'starting DynamoDB Local (java, in memory) and fauxqs (S3 + SQS) on loopback'
          : `starting DynamoDB Local (java; tables kept in ${join(state, 'dynamodb')}) and fauxqs (SQS) on loopback`,
      );
      const started = await startEmbeddedServices({ ...(this.ephemeral ? {} : { dynamoDbPath: join(state, 'dynamodb') }), detached: true });
      this.onClose('DynamoDB Local and fauxqs', () => started.stop());
      await this.ledger?.record(started.dynamoPid);
      services = started;
      this.say(`DynamoDB: ${started.dynamoEndpoint}  S3/SQS: ${started.s3Endpoint}`);
    }
    this.env = { ...services.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const env = this.env;

    // 2. Table, store, queue.
    const created = await ensureCatalogTable(createDynamoBaseClient(env), this.table);
    this.say(`table ${this.table}: ${created === 'created' ? 'created' : 'found (state from an earlier run)'}`);
    this.storeUrl = this.ephemeral ? `s3://${this.table === LOCAL_TABLE ? LOCAL_BUCKET : this.table.toLowerCase()}/` : `file://${join(state, 'store')}`;
    const sqs = createSqsClient(env);
    const { queueUrl, queueArn } = await createQueue(sqs, this.table === LOCAL_TABLE ? LOCAL_QUEUE : `${this.table}-failover`);
    // What the Lambdas get from the construct: the table, the store, the failover queue.
    Object.assign(env, { [ENV.table]: this.table, [ENV.store]: this.storeUrl, [ENV.failoverQueueUrl]: queueUrl });

    // The one runtime of the control plane's handlers and local mode's own commands. Local
    // mode's stand-ins for ECS and Cloud Map are made below; the runtime reads them when used.
    const logger = new Logger({ serviceName: 'lifeboat', logLevel: 'INFO' });
    // Powertools writes to stdout, which the status view owns: send handler logs to a file.
    Object.assign(logger, { console: new Console({ stdout: controlLog, stderr: controlLog }) });
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getters read what boot() makes later
    const mode = this;
    this.rt = createRuntime(env, {
      logger,
      metrics: quietMetrics(),
      get launcher() {
        return mode.launcher;
      },
      get ecs() {
        return mode.launcher;
      },
      get discovery() {
        return mode.discovery;
      },
    });
    const rt = this.rt;
    this.objects = rt.objects;
    await this.objects.ensure();
    this.say(`snapshot store: ${this.storeUrl}${this.ephemeral ? ' (in memory)' : ''}`);

    // 3. The example service's policy.
    const repo = o.repoRoot;
    const example = localExample(o.example); // --example kv|postgres|sqlite (lambdas/local/examples.ts)
    const raw = JSON.parse(await readFile(join(repo, example.policyFile), 'utf8')) as ServicePolicyInput;
    this.policy = examplePolicy(raw);
    await rt.registry.put(this.policy);
    const p = this.policy;
    this.say(
      `protected service ${p.service}: ${o.replicas ?? 3} replicas, failover after ${p.failover.timeoutSeconds} s, snapshots ${p.snapshot.schedule ?? 'on demand'}, ` +
        `retention ${p.retention.schedule ?? '-'}, drills ${p.drill.schedule ?? 'on demand'}${p.drill.timezone ? ` (${p.drill.timezone})` : ''}`,
    );

    // 4. What tasks run: the example's entrypoint, with `lifeboat`, `kv-server` and `kv-ctl` on PATH.
    const bin = await writeShims(repo, join(state, 'bin'), example.shims);
    const taskEnv: Record<string, string> = {
      ...env,
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: process.env.HOME ?? state,
      [ENV.service]: p.service,
    };

    // 5. The control plane: the Lambdas' handlers over the local runtime.
    this.discovery = new LocalDiscovery((record) => void this.termChanged(record));
    this.bus = new LocalEventBus({ onDelivery: (d) => this.onDelivery(d) });
    this.launcher = new LocalTaskLauncher({
      cluster: LOCAL_CLUSTER,
      workDir: join(state, 'tasks'),
      logDir: join(state, 'logs'),
      baseEnv: taskEnv,
      emit: (event) => this.bus.put(event),
      onNotice: (line) => this.activity('error', line),
      onSpawn: (pid) => void this.ledger?.record(pid).catch(() => undefined),
    });
    this.handlers = createLocalHandlers(rt);
    const h = this.handlers.handlers;
    // What local mode adds to a handler: the report handler's reports are copied to the
    // reports directory; elections a handler made show in the activity list.
    const targets: Record<HandlerId, (event: unknown, via: string) => Promise<unknown>> = Object.fromEntries(
      HANDLER_IDS.map((id) => [id, async (event: unknown, via: string) => this.logged(via, await h[id](event))]),
    ) as Record<HandlerId, (event: unknown, via: string) => Promise<unknown>>;
    targets.Report = async (event) => {
      const r = await h.Report(event);
      await this.exportReports(r.keys);
      return r;
    };
    // The topology the construct deploys, from the same trigger table (lambdas/local/wiring.ts).
    const wiring = localWiring({ clusterArn: this.launcher.clusterArn, policy: p });
    this.wiring = wiring;
    for (const rule of wiring.rules) this.bus.addRule({ name: rule.id, pattern: rule.pattern as BusPattern, target: (e) => targets[rule.handler](e, rule.id) });
    this.onClose('event bus', () => this.bus.close());
    for (const source of wiring.queues) {
      const poller = new LocalQueuePoller({
        client: sqs,
        queueUrl,
        queueArn,
        batchSize: source.batchSize,
        target: (e) => targets[source.handler](e, `${source.handler.toLowerCase()} (queue)`),
        onError: (err) => this.activity('error', `failover queue: ${err.message}`),
      });
      poller.start();
      this.onClose('failover queue poller', () => poller.stop());
    }

    // 6. Schedules: the control plane's own now, the service's once it has a primary (below).
    this.scheduler = new LocalScheduler({ speed: this.speed, onFiring: (f) => this.onFiring(f) });
    const s = this.scheduler;
    const schedule = (entry: LocalSchedule) =>
      s.add({
        name: entry.name,
        expression: entry.expression,
        ...(entry.timezone ? { timezone: entry.timezone } : {}),
        target: (e) => h[entry.handler](e),
        input: entry.input,
      });
    for (const entry of wiring.schedules) schedule(entry);
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
      command: ['/bin/sh', join(repo, example.entrypoint)],
      environment: (task) => example.environment(task),
      stopTimeoutSeconds: 10,
    });
    // Members left by an earlier run are not running any more: the reconciler finds that out.
    void s.fireNow('reconciler').catch(() => undefined);
    this.say(`launching ${o.replicas ?? 3} tasks of ${p.service} (each: ${example.describe})`);
    await this.launcher.createService({ name: p.service, taskDefinition: p.service, desiredCount: o.replicas ?? 3, replaceAfterMs: 2000 });
    // Stopped first: no schedule may start a drill or a snapshot while the tasks go away.
    this.onClose('scheduler', () => this.scheduler.stop());
    // The service's own schedules start once it has a primary, as they would once a service
    // is deployed and running; otherwise the first snapshot (rate schedules fire at once)
    // would only find no primary, and the next one come a whole period later.
    const serviceSchedules = () => {
      for (const entry of wiring.serviceSchedules) schedule(entry);
    };
    void this.whenPrimary(60_000).then((found) => {
      if (this.stopping) return;
      if (!found) this.activity('error', 'no primary after 60 s; starting the service schedules anyway');
      serviceSchedules();
      this.activity(
        'schedule',
        `service schedules started: snapshot ${p.snapshot.schedule ?? '-'}, retention ${p.retention.schedule ?? '-'}, drill ${p.drill.schedule ?? '-'}`,
      );
    });
  }

  /** Resolves true once the service has a primary, false after `timeoutMs`. */
  private async whenPrimary(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.stopping) {
      const { lease } = await this.coordination()
        .readState(this.service)
        .catch(() => ({ lease: undefined }));
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

  /** The launcher tasks run on (child processes), for the CLI's drills through the API. */
  get taskLauncher(): Pick<LocalTaskLauncher, 'runTask' | 'stopTask'> {
    return this.launcher;
  }

  /**
   * What a shell needs to point the CLI at this run, as `export` lines
   * (`eval "$(lifeboat local env)"`): the table, the store, the endpoints and credentials of
   * the embedded servers, the service, and the API whose launcher `lifeboat drill` then uses.
   */
  /** Writes shellExports() to `<state dir>/env` for `lifeboat local env`; removed when this run stops. */
  async publishEnv(): Promise<string> {
    const path = join(this.stateDir, LOCAL_ENV_FILE);
    await writeFile(path, this.shellExports(), { mode: 0o600 });
    this.onClose('env file', () => rm(path, { force: true }));
    return path;
  }

  shellExports(): string {
    const vars: Record<string, string> = { ...this.env, [ENV.service]: this.service, ...(this.apiUrl ? { [ENV.localApi]: this.apiUrl } : {}) };
    const quote = (v: string) => `'${v.replaceAll("'", "'\\''")}'`;
    return Object.entries(vars)
      .filter(([k]) => /^(LIFEBOAT_|AWS_)/.test(k))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `export ${k}=${quote(v)}\n`)
      .join('');
  }

  get service(): string {
    return this.policy.service;
  }

  get servicePolicy(): ServicePolicy {
    return this.policy;
  }

  get environment(): Record<string, string> {
    return { ...this.env };
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
    return this.rt.coordination;
  }

  /** Discovery moved: one activity line with the term and why it changed (the lease records the cause). */
  private async termChanged(record: { taskArn: string; term: number }): Promise<void> {
    const lease = await this.coordination()
      .readState(this.service)
      .then((s) => s.lease)
      .catch(() => undefined);
    const cause = lease?.term === record.term && lease.cause ? `: ${TERM_CAUSE_TEXT[lease.cause]}` : '';
    this.activity('primary', `discovery → task ${shortTask(record.taskArn)} (term ${record.term})${cause}`);
  }

  /** The runtime the handlers and local mode's own commands share (adapters over the embedded servers). */
  get runtime(): Runtime {
    return this.rt;
  }

  /** The rules, schedules and queue consumers local mode wired (from the trigger table). */
  get topology(): LocalWiring {
    return this.wiring;
  }

  /** Kills the primary's task at once (SIGKILL to its processes), like a crash. */
  async killPrimary(): Promise<{ taskArn: string; term: number; at: number }> {
    const { lease } = await this.coordination().readState(this.service);
    const task = lease ? this.launcher.get(lease.holder) : undefined;
    if (!lease || !task?.child)
      throw new OperationFailedError('there is no running primary to kill yet', { hint: 'wait until a primary is elected (the status view shows it)' });
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
    this.activity(
      r.outcome === 'failed' ? 'error' : 'snapshot',
      `snapshot job ${r.job.jobId} ${r.outcome}${r.job.target ? ` (asked task ${shortTask(r.job.target.taskArn)}, term ${r.job.target.term})` : ''}${r.job.reason ? `: ${r.job.reason}` : ''}`,
    );
    return r;
  }

  /** A snapshot job's record, to follow it. */
  async snapshotJob(jobId: string): Promise<SnapshotJob | undefined> {
    return this.handlers.snapshotJobs.jobs.get(this.service, jobId);
  }

  /**
   * Starts a restore drill (the same workflow as `lifeboat drill`). With `keepSeconds`
   * (`lifeboat drill --keep`) the drill task stays up that long after its verdict, its
   * application answering on `port`, until the drill watchdog stops it.
   */
  async drill(snapshot?: string, options: { keepSeconds?: number } = {}): Promise<StartDrillResult & { port?: number }> {
    const r = await startDrill(this.handlers.drills, {
      service: this.service,
      ...(snapshot ? { snapshot } : {}),
      trigger: 'manual',
      ...(options.keepSeconds !== undefined ? { keepSeconds: options.keepSeconds } : {}),
    });
    const port = r.drill.taskArn ? this.launcher.list().find((t) => t.taskArn === r.drill.taskArn)?.port : undefined;
    const kept = r.drill.keep
      ? `; kept ${formatSeconds(r.drill.keep.seconds)} after its verdict for inspection: task ${shortTask(r.drill.taskArn ?? '-')}${port !== undefined ? `, http://127.0.0.1:${port}/` : ''}`
      : '';
    this.activity('drill', `drill ${r.drill.drillId} started on snapshot ${r.drill.snapshotId} (${r.outcome})${kept}`);
    return { ...r, ...(port !== undefined ? { port } : {}) };
  }

  /** Runs a schedule now (e.g. retention), as if its time had come; returns what its target returned. */
  async runSchedule(name: string): Promise<ScheduleFiring> {
    return this.scheduler.fireNow(name);
  }

  /**
   * Damages a stored snapshot for the demo: flips one byte in the middle of its first
   * archive part (v1) or of one of its chunks in a pack (v2), as bit rot or a bad copy would. The catalog still says complete; only a
   * restore (a drill) can find out.
   */
  async corruptSnapshot(snapshotId?: string): Promise<{ snapshotId: string; key: string }> {
    const catalog = this.rt.catalog;
    const record = snapshotId ? await catalog.get(this.service, snapshotId) : await catalog.latest(this.service);
    if (!record) throw new UsageError(snapshotId ? `no snapshot ${snapshotId}` : 'there is no complete snapshot to damage yet');
    let key: string;
    let middle: number;
    if (isManifestV2Key(record.manifestKey)) {
      // v2: one byte in the middle of the stored chunk of this snapshot's last file data,
      // the newest data and so most likely in a pack only this snapshot uses.
      const [{ manifest }, { index }] = await Promise.all([fetchManifestV2(this.objects, record), loadIndex(this.objects, this.service)]);
      const blob = manifest.entries.flatMap((e) => (e.type === 'file' ? e.blobs : [])).at(-1);
      const at = blob === undefined ? undefined : index.get(blob);
      if (!at) throw new UsageError(`snapshot ${record.id} holds no file data to damage`);
      key = packObjectKey(this.service, at.pack);
      middle = at.offset + Math.floor(at.length / 2);
    } else {
      key = partObjectKey(this.service, record.id, 0, 'zstd');
      if (!(await this.objects.head(key))) key = partObjectKey(this.service, record.id, 0, 'none');
      middle = -1;
    }
    const chunks: Buffer[] = [];
    for await (const c of await this.objects.get(key)) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    if (middle < 0) middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0xff;
    // The demo plays the attacker with the operator's own access, which may replace objects.
    await this.objects.put(key, Readable.from([bytes]), { existing: 'replace' });
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
      for await (const c of await this.objects.get(key)) chunks.push(c as Buffer);
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
    const service = this.service;
    const rt = this.rt;
    const catalog = rt.catalog;
    const [state, snapshots, drills, plan] = await Promise.all([
      this.coordination().readState(service),
      collect(catalog.list(service), 12),
      collect(rt.drills.list(service, { limit: 8 }), 8),
      planServiceRetention(retentionFlows(rt), { service, policy: this.policy.retention }).catch(() => undefined),
    ]);
    const now = Date.now();
    const byArn = new Map<string, Member>(state.members.map((m) => [m.taskArn, m]));
    const members: MemberStatus[] = this.launcher
      .list()
      .filter((t) => t.lastStatus !== 'STOPPED' || now - Date.parse(t.stoppedAt ?? t.createdAt) < 60_000)
      .map((t) => {
        const m = byArn.get(t.taskArn);
        const drill = isDrillTask({ startedBy: t.startedBy, overrideEnvironment: t.overrides });
        const role: MemberStatus['role'] = drill
          ? 'drill'
          : t.lastStatus === 'STOPPED'
            ? 'stopped'
            : m?.goneAt !== undefined
              ? 'leaving'
              : state.lease?.holder === t.taskArn && m?.primaryTerm !== undefined
                ? 'primary'
                : 'replica';
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
        return {
          id: r.id,
          status: r.status,
          createdAt: r.createdAt,
          size: r.size,
          verifiedAt: r.verifiedAt,
          suspectAt: r.suspectAt,
          reason: r.reason,
          term: r.term,
          ...(e ? { retention: { action: e.action, reasons: e.reasons } } : {}),
        };
      }),
      ...(plan ? { retention: { policy: plan.policy, timezone: plan.timezone, summary: plan.summary } } : {}),
      drills: drills.map((d) => ({
        drillId: d.drillId,
        status: d.status,
        snapshotId: d.snapshotId,
        createdAt: d.createdAt,
        reason: d.reason,
        rtoSeconds: d.rtoSeconds,
        rpoSeconds: d.rpoSeconds,
        trigger: d.trigger,
      })),
      ...drillChecksStatus(this.policy, drills),
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

export function shortTask(taskArn: string): string {
  return taskArn.split('/').pop()!.slice(0, 8);
}

function describeElection(e: { lease: Lease; reason: string; lostAt: number }, by: string): string {
  const after = e.reason === 'failover' ? `, ${((e.lease.electedAt - e.lostAt) / 1000).toFixed(1)} s after the old one was lost` : '';
  const cause = e.lease.cause ? `; ${TERM_CAUSE_TEXT[e.lease.cause]}` : '';
  return `primary elected: task ${shortTask(e.lease.holder)}, term ${e.lease.term} (${e.reason}, by the ${by}${after}${cause})`;
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
async function writeShims(repo: string, bin: string, exampleShims: Record<string, string>): Promise<string> {
  await mkdir(bin, { recursive: true });
  const tsx = fileURLToPath(import.meta.resolve('tsx'));
  const shims: Record<string, string> = {
    lifeboat: join(repo, 'bin/lifeboat.ts'),
  };
  // The example's commands: `.ts` through tsx like the others; `.mjs` (hooks that must start fast) with plain node.
  for (const [name, spec] of Object.entries(exampleShims)) {
    const [file, ...args] = spec.split(' ');
    const path = join(bin, name);
    const loader = file!.endsWith('.mjs') ? '' : ` --import ${JSON.stringify(`file://${tsx}`)}`;
    await writeFile(
      path,
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)}${loader} ${JSON.stringify(join(repo, file!))}${args.map((a) => ` ${JSON.stringify(a)}`).join('')} "$@"\n`,
    );
    await chmod(path, 0o755);
  }
  for (const [name, script] of Object.entries(shims)) {
    const path = join(bin, name);
    await writeFile(path, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(`file://${tsx}`)} ${JSON.stringify(script)} "$@"\n`);
    await chmod(path, 0o755);
  }
  return bin;
}
