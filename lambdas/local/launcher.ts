/**
 * Local mode's stand-in for ECS: tasks are child processes, a "service" keeps its desired
 * count of them running, RunTask starts one-off tasks (restore drills), and every state
 * change goes to the event bus as an "ECS Task State Change" event shaped like ECS's own
 * (see ecs-events.ts) with an increasing `version`.
 *
 * Implements the same interfaces as the ECS adapters, so the handlers cannot tell:
 * TaskLauncher (RunTask / StopTask, for drills) and EcsTasks (ListTasks / DescribeTasks, for
 * the reconciler).
 *
 * A task's lifecycle, as ECS reports it:
 *   PROVISIONING → PENDING → RUNNING (process started) → … → STOPPED
 * - StopTask: desired STOPPED (stop code UserInitiated), SIGTERM to the container's main
 *   process, SIGKILL to its whole process group after the stop timeout, then STOPPED with
 *   the exit code;
 * - the process exits by itself or is killed (`kill`, a crash): desired STOPPED (stop code
 *   EssentialContainerExited), then STOPPED with the exit code (128 + signal when killed).
 * Each task gets its own directory (its ephemeral storage, removed when it stops), a free
 * loopback port (its ENI address is 127.0.0.1; the port is in its network bindings) and a
 * log file that outlives it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import type { TaskLauncher } from '../adapters/ecs-launcher.js';
import type { EcsTasks } from '../adapters/ecs-tasks.js';
import { withLifeline } from '../adapters/lifeline.js';
import { ENV } from '../contract/environment.js';
import type { DrillRunTaskRequest } from '../domain/drills.js';
import { OperationFailedError } from '../domain/errors.js';
import { observationFromEcsTask, type TaskObservation } from '../domain/membership.js';
import { type LocalTaskState, taskDetail, taskStateChangeEvent } from './ecs-events.js';
import { freePort } from './embedded-services.js';

export interface LocalTaskContext {
  taskArn: string;
  taskId: string;
  /** The task's own directory (its ephemeral storage). */
  dir: string;
  /** A free loopback port for the container. */
  port: number;
}

export interface LocalTaskDefinition {
  family: string;
  revision: number;
  containerName: string;
  /** The container's command: argv of its entrypoint. */
  command: string[];
  /** The container's environment (RunTask overrides go on top). */
  environment: (task: LocalTaskContext) => Record<string, string>;
  /** SIGTERM → SIGKILL on StopTask (ECS: stopTimeout, default 30 s). */
  stopTimeoutSeconds?: number;
}

export interface LocalServiceSpec {
  name: string;
  /** family or family:revision */
  taskDefinition: string;
  desiredCount: number;
  /** How long after a task stops its replacement starts (ECS takes a few seconds too). */
  replaceAfterMs?: number;
}

export interface LocalTask extends LocalTaskState {
  taskId: string;
  port: number;
  dir: string;
  logFile: string;
  service?: string;
  child?: ChildProcess;
  exited: Promise<void>;
}

export interface LocalLauncherOptions {
  cluster: string;
  region?: string;
  account?: string;
  /** Where tasks' directories go. */
  workDir: string;
  /** Where tasks' logs go. */
  logDir: string;
  /** Environment every task starts from (the process's own is not inherited). */
  baseEnv: Record<string, string>;
  /** The event bus's PutEvents. */
  emit: (event: unknown) => void;
  onNotice?: (line: string) => void;
  /** Told the process group of every task it starts (local mode's ledger of what to clean up after a crash). */
  onSpawn?: (pid: number | undefined) => void;
}

const ACCOUNT = '000000000000';

export class LocalTaskLauncher implements TaskLauncher, EcsTasks {
  readonly clusterArn: string;
  private readonly definitions = new Map<string, LocalTaskDefinition>();
  private readonly services = new Map<string, LocalServiceSpec & { pending: number }>();
  private readonly tasks = new Map<string, LocalTask>();
  private readonly byClientToken = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private shuttingDown = false;
  private readonly region: string;
  private readonly account: string;

  /** Last resort if this process exits without shutdown() (a second Ctrl-C): no task outlives it. */
  private readonly killAll = () => {
    for (const t of this.tasks.values()) signalGroup(t, 'SIGKILL');
  };

  constructor(private readonly o: LocalLauncherOptions) {
    this.region = o.region ?? 'us-east-1';
    this.account = o.account ?? ACCOUNT;
    this.clusterArn = `arn:aws:ecs:${this.region}:${this.account}:cluster/${o.cluster}`;
    process.on('exit', this.killAll);
  }

  registerTaskDefinition(def: LocalTaskDefinition): string {
    this.definitions.set(`${def.family}:${def.revision}`, def);
    return this.taskDefinitionArn(def);
  }

  private taskDefinitionArn(def: LocalTaskDefinition): string {
    return `arn:aws:ecs:${this.region}:${this.account}:task-definition/${def.family}:${def.revision}`;
  }

  private definition(name: string): LocalTaskDefinition {
    const short = name.replace(/^arn:aws:ecs:[^:]*:[^:]*:task-definition\//, '');
    if (short.includes(':')) {
      const def = this.definitions.get(short);
      if (def) return def;
    } else {
      const latest = [...this.definitions.values()].filter((d) => d.family === short).sort((a, b) => b.revision - a.revision)[0];
      if (latest) return latest;
    }
    throw new OperationFailedError(`RunTask on ${this.o.cluster} was refused: ClientException: Unable to describe task definition ${name}`, {
      hint: `local mode knows ${[...this.definitions.keys()].join(', ') || 'no task definition'}`,
    });
  }

  private assertCluster(cluster: string): void {
    if (cluster !== this.o.cluster && cluster !== this.clusterArn) {
      throw new OperationFailedError(`ClusterNotFoundException: cluster ${cluster} is not local mode's cluster ${this.o.cluster}`);
    }
  }

  /** Starts a service: keeps `desiredCount` tasks of it running until shutdown. */
  async createService(spec: LocalServiceSpec): Promise<void> {
    this.definition(spec.taskDefinition);
    this.services.set(spec.name, { ...spec, pending: 0 });
    await this.fillService(spec.name);
  }

  private async fillService(name: string): Promise<void> {
    const svc = this.services.get(name);
    if (!svc || this.shuttingDown) return;
    const running = [...this.tasks.values()].filter((t) => t.service === name && t.desiredStatus === 'RUNNING').length;
    const missing = svc.desiredCount - running - svc.pending;
    const starts: Promise<unknown>[] = [];
    for (let i = 0; i < missing; i++) {
      starts.push(
        this.start(this.definition(svc.taskDefinition), { group: `service:${name}`, startedBy: `ecs-svc/${hash(name)}`, service: name }).catch(
          (err: unknown) => {
            this.o.onNotice?.(`service ${name}: could not start a task: ${(err as Error).message}`);
          },
        ),
      );
    }
    await Promise.all(starts);
  }

  async runTask(request: DrillRunTaskRequest): Promise<{ taskArn: string }> {
    this.assertCluster(request.cluster);
    // RunTask is idempotent by client token: the same token returns the same task.
    const known = this.byClientToken.get(request.clientToken);
    if (known) return { taskArn: known };
    const def = this.definition(request.taskDefinition);
    const overrides = request.overrides.containerOverrides.find((c) => c.name === def.containerName) ?? request.overrides.containerOverrides[0];
    const env = Object.fromEntries((overrides?.environment ?? []).map((e) => [e.name, e.value]));
    const task = await this.start(def, { group: `family:${def.family}`, startedBy: request.startedBy, overrides: env });
    this.byClientToken.set(request.clientToken, task.taskArn);
    return { taskArn: task.taskArn };
  }

  async stopTask(cluster: string, taskArn: string, reason: string): Promise<void> {
    this.assertCluster(cluster);
    const task = this.tasks.get(taskArn);
    if (!task || task.lastStatus === 'STOPPED' || task.desiredStatus === 'STOPPED') return;
    this.update(task, { desiredStatus: 'STOPPED', stopCode: 'UserInitiated', stoppedReason: reason, stoppingAt: iso() });
    const def = this.definition(task.taskDefinitionArn);
    task.child?.kill('SIGTERM');
    const timer = setTimeout(() => signalGroup(task, 'SIGKILL'), (def.stopTimeoutSeconds ?? 30) * 1000);
    await task.exited;
    clearTimeout(timer);
  }

  /** Kills a task's processes at once (a crash, an OOM kill): ECS then reports it stopped. */
  kill(taskArn: string, signal: NodeJS.Signals = 'SIGKILL'): boolean {
    const task = this.tasks.get(taskArn);
    if (!task?.child || task.lastStatus === 'STOPPED') return false;
    signalGroup(task, signal);
    return true;
  }

  /** Every task this launcher started, newest first (for the status view). */
  list(): LocalTask[] {
    return [...this.tasks.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  get(taskArn: string): LocalTask | undefined {
    return this.tasks.get(taskArn);
  }

  // --- EcsTasks (the reconciler's view) -------------------------------------------------

  async serviceTasks(cluster: string, serviceName: string): Promise<TaskObservation[]> {
    this.assertCluster(cluster);
    return [...this.tasks.values()].filter((t) => t.service === serviceName && t.desiredStatus === 'RUNNING').map((t) => this.observe(t));
  }

  async describe(cluster: string, taskArns: readonly string[]): Promise<{ found: TaskObservation[]; missing: string[] }> {
    this.assertCluster(cluster);
    const found: TaskObservation[] = [];
    const missing: string[] = [];
    for (const arn of taskArns) {
      const t = this.tasks.get(arn);
      if (t) found.push(this.observe(t));
      else missing.push(arn);
    }
    return { found, missing };
  }

  private observe(task: LocalTask): TaskObservation {
    return observationFromEcsTask(taskDetail(task, this.clusterArn));
  }

  // --- lifecycle ------------------------------------------------------------------------

  private async start(
    def: LocalTaskDefinition,
    how: { group: string; startedBy: string; service?: string; overrides?: Record<string, string> },
  ): Promise<LocalTask> {
    if (this.shuttingDown) throw new OperationFailedError(`RunTask on ${this.o.cluster} was refused: local mode is shutting down`);
    const svc = how.service ? this.services.get(how.service) : undefined;
    if (svc) svc.pending++;
    try {
      const taskId = randomBytes(16).toString('hex');
      const taskArn = `arn:aws:ecs:${this.region}:${this.account}:task/${this.o.cluster}/${taskId}`;
      const dir = join(this.o.workDir, taskId);
      await mkdir(dir, { recursive: true });
      await mkdir(this.o.logDir, { recursive: true });
      const port = await freePort();
      let markExited!: () => void;
      const task: LocalTask = {
        taskArn,
        taskId,
        containerArn: `arn:aws:ecs:${this.region}:${this.account}:container/${this.o.cluster}/${taskId}/${randomUUID()}`,
        containerName: def.containerName,
        taskDefinitionArn: this.taskDefinitionArn(def),
        group: how.group,
        startedBy: how.startedBy,
        overrides: how.overrides ?? {},
        version: 0,
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        createdAt: iso(),
        port,
        dir,
        logFile: join(this.o.logDir, `${taskId}.log`),
        ...(how.service ? { service: how.service } : {}),
        exited: new Promise<void>((r) => (markExited = r)),
      };
      this.tasks.set(taskArn, task);
      this.emit(task);
      this.update(task, { lastStatus: 'PENDING' });
      const context: LocalTaskContext = { taskArn, taskId, dir, port };
      const env = { ...this.o.baseEnv, ...def.environment(context), ...task.overrides, [ENV.task]: taskArn };
      const log = createWriteStream(task.logFile, { flags: 'a' });
      // A lifeline: the task dies with local mode, even when local mode is killed outright.
      const [command, ...args] = withLifeline(def.command);
      const child = spawn(command!, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      this.o.onSpawn?.(child.pid);
      task.child = child;
      child.stdout!.pipe(log, { end: false });
      child.stderr!.pipe(log, { end: false });
      child.once('error', (err) => log.write(`local launcher: cannot start ${def.command[0]}: ${err.message}\n`));
      child.once('spawn', () => this.update(task, { lastStatus: 'RUNNING', startedAt: iso() }));
      child.once('close', (code, signal) => void this.onExit(task, code, signal, log).finally(markExited));
      return task;
    } finally {
      if (svc) svc.pending--;
    }
  }

  private async onExit(task: LocalTask, code: number | null, signal: NodeJS.Signals | null, log: WriteStream): Promise<void> {
    const exitCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
    // The container is gone: so is anything it left running in its process group.
    signalGroup(task, 'SIGKILL');
    log.end(`local launcher: container exited with ${code ?? signal}\n`);
    const now = iso();
    if (task.desiredStatus === 'RUNNING') {
      const started = task.startedAt !== undefined;
      this.update(task, {
        desiredStatus: 'STOPPED',
        stopCode: started ? 'EssentialContainerExited' : 'TaskFailedToStart',
        stoppedReason: started ? `Essential container in task exited` : `CannotStartContainerError: the container's command could not be run`,
        stoppingAt: now,
        exitCode,
        lastStatus: 'DEACTIVATING',
      });
    }
    this.update(task, { lastStatus: 'STOPPED', stoppedAt: now, executionStoppedAt: now, exitCode });
    task.child = undefined;
    // Ephemeral storage goes with the task; the log stays.
    await rm(task.dir, { recursive: true, force: true }).catch(() => undefined);
    if (task.service && !this.shuttingDown) {
      const svc = this.services.get(task.service);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.fillService(task.service!);
      }, svc?.replaceAfterMs ?? 1000);
      this.timers.add(timer);
    }
  }

  private update(task: LocalTask, change: Partial<LocalTaskState>): void {
    Object.assign(task, change);
    this.emit(task);
  }

  private emit(task: LocalTask): void {
    task.version++;
    task.updatedAt = iso();
    this.o.emit(taskStateChangeEvent(task, { clusterArn: this.clusterArn, region: this.region, account: this.account }));
  }

  /**
   * Stops every task (SIGTERM, then SIGKILL after `graceMs`) without starting replacements,
   * and waits until each has exited and its STOPPED event was emitted.
   */
  async shutdown(graceMs = 10_000): Promise<void> {
    this.shuttingDown = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const live = [...this.tasks.values()].filter((t) => t.child);
    for (const t of live) {
      if (t.desiredStatus === 'RUNNING')
        this.update(t, { desiredStatus: 'STOPPED', stopCode: 'ServiceSchedulerInitiated', stoppedReason: 'local mode is shutting down', stoppingAt: iso() });
      t.child?.kill('SIGTERM');
    }
    const timer = setTimeout(() => {
      for (const t of live) signalGroup(t, 'SIGKILL');
    }, graceMs);
    await Promise.all(live.map((t) => t.exited));
    clearTimeout(timer);
    process.removeListener('exit', this.killAll);
  }
}

function signalGroup(task: LocalTask, signal: NodeJS.Signals): void {
  const pid = task.child?.pid;
  if (pid === undefined) return;
  try {
    // detached: the container's processes form their own group, like a container's PID namespace.
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function hash(s: string): string {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return (9_223_370_000_000_000_000n + BigInt(h)).toString();
}

const iso = () => new Date().toISOString();
