/**
 * One agent's life in its task (what `lifeboat agent` runs; bin/cli/agent.ts only parses
 * flags and wraps the application): check the service is protected, restore the data
 * directory if asked (restore-on-start), then heartbeat (runAgent) — following the primary
 * role through the promote/demote hooks, taking the snapshots that snapshot jobs ask for
 * beside the heartbeat, and passing every other command to the command hook or the printer.
 */

import type { ObjectStore } from '../adapters/stores/store.js';
import { ENV } from '../contract/environment.js';
import { finishAgentJob, jobForCommand } from '../control/snapshot-jobs.js';
import type { Role } from '../domain/election.js';
import { HookFailedError, UsageError } from '../domain/errors.js';
import type { MemberCommand } from '../domain/membership.js';
import type { ServicePolicy } from '../domain/service-policy.js';
import { SNAPSHOT_COMMAND } from '../domain/snapshot-jobs.js';
import { runHook } from '../engine/hooks.js';
import { restoreSnapshot } from '../engine/restore.js';
import type { Runtime } from '../runtime/runtime.js';
import { type AgentSummary, runAgent } from './agent.js';
import { runSnapshotCommand } from './snapshot-command.js';

export interface AgentSessionOptions {
  /** The composition root: coordination, registry, catalog, jobs, objects, failover timer. */
  runtime: Pick<Runtime, 'coordination' | 'registry' | 'catalog' | 'jobs' | 'objects' | 'timer' | 'table' | 'now'>;
  service: string;
  taskArn: string;
  /** Restore the newest complete snapshot into this directory first, if it is empty. */
  restoreInto?: string;
  /** The data directory snapshot jobs snapshot. */
  dir?: string;
  onPromote?: string;
  onDemote?: string;
  onCommand?: string;
  positionCommand?: string;
  hookTimeoutMs: number;
  elect: boolean;
  /** Snapshots read every file, even those unchanged since the previous snapshot (--read-all). */
  readAll?: boolean;
  /** Aborts a running restore or snapshot (SIGINT/SIGTERM). */
  cancel: AbortSignal;
  /** One line of what the agent does (stderr). */
  say: (line: string) => void;
}

const describeRole = (r: Role) => (r.kind === 'primary' ? `primary (term ${r.term})` : r.kind);

export class AgentSession {
  private role: Role = { kind: 'replica' };
  private snapshotting: Promise<void> | undefined;

  private constructor(
    private readonly o: AgentSessionOptions,
    readonly policy: ServicePolicy,
    private readonly restoredPosition: number | undefined,
  ) {}

  /** Reads the service's policy (refusing an unprotected service) and restores, if asked. */
  static async start(o: AgentSessionOptions): Promise<AgentSession> {
    const rt = o.runtime;
    const policy = await rt.registry.get(o.service);
    if (!policy) {
      throw new UsageError(`service ${o.service} is not protected: table ${rt.table} has no policy for it`, {
        hint: 'protect it with the CDK construct (or write its policy with the service registry), then start the agent',
      });
    }
    let restoredPosition: number | undefined;
    if (o.restoreInto !== undefined) {
      const result = await restoreSnapshot({
        catalog: rt.catalog,
        store: rt.objects,
        service: o.service,
        dir: o.restoreInto,
        snapshot: 'latest',
        ifEmpty: true,
        signal: o.cancel,
        onNotice: o.say,
      });
      if (result.status === 'restored') {
        restoredPosition = Date.parse(result.snapshot.createdAt);
        o.say(`restored snapshot ${result.snapshot.id} of ${o.service} into ${result.dir}`);
      } else {
        o.say(result.message);
      }
    }
    return new AgentSession(o, policy, restoredPosition);
  }

  /** The environment of every hook. */
  private get baseEnv(): Record<string, string> {
    return { [ENV.service]: this.o.service, [ENV.task]: this.o.taskArn };
  }

  private async hook(command: string | undefined, name: string, env: Record<string, string>): Promise<void> {
    if (!command) return;
    try {
      await runHook(command, { name, env: { ...this.baseEnv, ...env }, timeoutMs: this.o.hookTimeoutMs });
    } catch (err) {
      // The role is what the lease says, whatever the hook did: report and carry on.
      if (!(err instanceof HookFailedError)) throw err;
      this.o.say(`lifeboat: error: ${err.message}`);
    }
  }

  private dataPosition(): () => Promise<number | undefined> {
    const command = this.o.positionCommand;
    if (!command) return async () => this.restoredPosition;
    return async () => {
      const r = await runHook(command, { name: 'position command', env: this.baseEnv, timeoutMs: this.o.hookTimeoutMs });
      const n = Number(r.output.trim());
      if (!Number.isFinite(n)) throw new UsageError(`position command printed ${JSON.stringify(r.output.trim())}, not a number`);
      return n;
    };
  }

  /**
   * Snapshot jobs arrive as commands; the snapshot runs beside the heartbeat loop (it may
   * take minutes; the lease must keep being renewed meanwhile), one at a time.
   */
  private startSnapshot(command: MemberCommand): void {
    const { o } = this;
    const rt = o.runtime;
    const objects = ((): ObjectStore | undefined => {
      try {
        return rt.objects;
      } catch {
        return undefined; // the job says why
      }
    })();
    const deps = { jobs: rt.jobs, catalog: rt.catalog, objects, now: rt.now };
    if (this.snapshotting) {
      void jobForCommand(rt.jobs, o.service, command)
        .then((job) => job && finishAgentJob(deps, job, { error: `task ${o.taskArn} is already taking a snapshot` }))
        .catch((err: Error) => o.say(`lifeboat: error: snapshot job ${command.id}: ${err.message}`));
      return;
    }
    o.say(`snapshot requested (job ${command.id})`);
    this.snapshotting = runSnapshotCommand(deps, {
      service: o.service,
      policy: this.policy,
      taskArn: o.taskArn,
      role: this.role,
      dir: o.dir,
      command,
      ...(o.readAll ? { readAll: true } : {}),
      signal: o.cancel,
      onNotice: o.say,
    })
      .then((r) =>
        o.say(r.outcome === 'skipped' ? `snapshot job ${command.id} skipped: ${r.reason}` : `snapshot job ${r.job.jobId} ${r.job.status}: ${r.job.reason}`),
      )
      .catch((err: Error) => o.say(`lifeboat: error: snapshot job ${command.id}: ${err.message}`))
      .finally(() => {
        this.snapshotting = undefined;
      });
  }

  /** Heartbeats until `signal`; then waits for a snapshot still running. Commands without a hook go to `printCommand`. */
  async run(signal: AbortSignal, printCommand: (line: string) => void): Promise<AgentSummary> {
    const { o, policy } = this;
    o.say(
      `agent for ${o.service} in ${o.taskArn}: heartbeat every ${policy.failover.heartbeatSeconds} s, lease ${policy.failover.leaseSeconds} s, failover after ${policy.failover.timeoutSeconds} s`,
    );
    const timer = o.runtime.timer;
    const summary = await runAgent({
      coordination: o.runtime.coordination,
      service: o.service,
      taskArn: o.taskArn,
      failover: policy.failover,
      signal,
      dataPosition: this.dataPosition(),
      elect: o.elect,
      ...(timer ? { timer } : {}),
      onNotice: o.say,
      onRole: async (next, previous) => {
        this.role = next;
        o.say(`role: ${describeRole(previous)} -> ${describeRole(next)}`);
        if (next.kind === 'primary') await this.hook(o.onPromote, 'promote hook', { LIFEBOAT_ROLE: 'primary', LIFEBOAT_TERM: String(next.term) });
        else if (previous.kind === 'primary') await this.hook(o.onDemote, 'demote hook', { LIFEBOAT_ROLE: next.kind, LIFEBOAT_TERM: String(previous.term) });
      },
      onCommand: async (command) => {
        if (command.type === SNAPSHOT_COMMAND) return this.startSnapshot(command);
        if (o.onCommand) {
          await this.hook(o.onCommand, `command hook (${command.type})`, {
            LIFEBOAT_COMMAND_ID: command.id,
            LIFEBOAT_COMMAND_TYPE: command.type,
            LIFEBOAT_COMMAND_ARGS: JSON.stringify(command.args ?? {}),
          });
        } else {
          printCommand(JSON.stringify(command));
        }
      },
    });
    // A snapshot still running when the agent stops finishes (or is aborted by the signal) first.
    await this.snapshotting;
    o.say(
      `agent stopped after ${summary.heartbeats} heartbeats (${summary.failedHeartbeats} failed), ${summary.commands} commands, ${summary.elections} elections`,
    );
    return summary;
  }
}
