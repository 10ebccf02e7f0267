/**
 * The agent's membership loop, inside each protected task: heartbeat, learn the role,
 * hand over commands, and stand in as an elector when there is no live primary.
 *
 * Every `heartbeatSeconds`:
 *   1. one conditional UpdateItem renews the member — and so the lease, when primary —
 *      acknowledges the commands handled since, and returns the member item: its role
 *      (`primaryTerm`) and pending commands;
 *   2. a role change is reported (promote/demote hooks run there);
 *   3. new commands are handed to `onCommand` and acknowledged with the next heartbeat
 *      (at least once: a command whose acknowledgement is lost comes back; the agent
 *      remembers what it handled, so it is not run twice while the agent lives);
 *   4. a replica reads the service's state and, when the primary is lost past the failover
 *      timeout (or there is none), runs the same conditional election as the control plane.
 *
 * Self-fencing (Patroni-style): a primary believes it is primary only until the last lease
 * it *knows* was written (time the heartbeat was sent + lease duration) minus a safety
 * margin (selfFenceMarginMs). If heartbeats fail, it demotes itself at that instant —
 * before anyone else can be elected, since an elector needs that lease to have run out
 * (plus the failover timeout), and even if the clocks disagree by less than the margin.
 */

import type { CoordinationStore, HeartbeatResult } from '../adapters/coordination.js';
import type { FailoverTimer } from '../adapters/failover-timer.js';
import { decideFailover, type Role, roleOf, selfFenceMarginMs } from '../domain/election.js';
import type { MemberCommand } from '../domain/membership.js';
import type { FailoverPolicy } from '../domain/service-policy.js';

export interface AgentOptions {
  coordination: CoordinationStore;
  service: string;
  taskArn: string;
  failover: FailoverPolicy;
  /** Stops the loop; the agent then releases its membership (unless `release` is false). */
  signal: AbortSignal;
  /** Current data freshness, reported with each heartbeat (bigger is fresher). */
  dataPosition?: () => Promise<number | undefined>;
  /** Called on every role change, awaited: promote/demote hooks go here. */
  onRole?: (role: Role, previous: Role) => Promise<void> | void;
  /** Called once per new command; the command is acknowledged after it returns. */
  onCommand?: (command: MemberCommand) => Promise<void> | void;
  onNotice?: (line: string) => void;
  /** Told to look at the service now after this agent elected someone (so discovery follows at once). */
  timer?: FailoverTimer;
  /** Take part in elections (default true). */
  elect?: boolean;
  /** Mark the member gone on stop, which starts the failover clock at once (default true). */
  release?: boolean;
  now?: () => number;
  /** Demote this long before the known lease runs out (default: selfFenceMarginMs). */
  fenceMarginMs?: number;
  /** Waits `ms` or until aborted. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface AgentSummary {
  heartbeats: number;
  failedHeartbeats: number;
  commands: number;
  elections: number;
  finalRole: Role;
}

const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

const REPLICA: Role = { kind: 'replica' };

export function sameRole(a: Role, b: Role): boolean {
  return a.kind === b.kind && (a.kind !== 'primary' || (b.kind === 'primary' && a.term === b.term));
}

/**
 * One agent's state and its heartbeat round, apart from the loop that paces it, so the
 * property simulation drives the very same code on its own clock.
 */
export class AgentMember {
  role: Role = REPLICA;
  /** The last lease this agent knows was written (time the heartbeat was sent + lease). */
  knownAliveUntil = Number.NEGATIVE_INFINITY;
  readonly summary: AgentSummary = { heartbeats: 0, failedHeartbeats: 0, commands: 0, elections: 0, finalRole: REPLICA };
  private readonly handled = new Set<string>();
  private readonly toAcknowledge = new Set<string>();
  private readonly now: () => number;
  private readonly notice: (line: string) => void;
  private readonly marginMs: number;

  constructor(private readonly o: Omit<AgentOptions, 'signal' | 'sleep'>) {
    this.now = o.now ?? Date.now;
    this.notice = o.onNotice ?? (() => undefined);
    this.marginMs = o.fenceMarginMs ?? selfFenceMarginMs(o.failover);
  }

  /** When this agent stops vouching for its lease. */
  private get fenceAt(): number {
    return this.knownAliveUntil - this.marginMs;
  }

  /** Primary as far as this agent can vouch: role primary and its known lease (less the margin) not run out. */
  believesPrimary(at = this.now()): boolean {
    return this.role.kind === 'primary' && at < this.fenceAt;
  }

  private async become(next: Role): Promise<void> {
    if (sameRole(next, this.role)) return;
    const previous = this.role;
    this.role = next;
    await this.o.onRole?.(next, previous);
  }

  /** Demotes a primary whose last known lease has run out (called at every wake-up). */
  async fence(): Promise<void> {
    if (this.role.kind === 'primary' && this.now() >= this.fenceAt) {
      this.notice(`lease of term ${this.role.term} could not be renewed in time; demoting`);
      await this.become(REPLICA);
    }
  }

  /** One round (see the module comment); returns how long to wait before the next. */
  async tick(): Promise<number> {
    const o = this.o;
    const leaseMs = o.failover.leaseSeconds * 1000;
    const intervalMs = o.failover.heartbeatSeconds * 1000;
    await this.fence();
    const sentAt = this.now();
    let beat: HeartbeatResult | undefined;
    // A failing position report must not cost the heartbeat (and with it the lease).
    const position = await Promise.resolve()
      .then(() => o.dataPosition?.())
      .catch((err: unknown) => void this.notice(`data position unknown: ${(err as Error).message}`));
    try {
      beat = await o.coordination.heartbeat(o.service, o.taskArn, {
        now: sentAt,
        aliveUntil: sentAt + leaseMs,
        ...(position !== undefined ? { dataPosition: position } : {}),
        ...(this.toAcknowledge.size ? { acknowledge: [...this.toAcknowledge] } : {}),
      });
      this.summary.heartbeats++;
    } catch (err) {
      this.summary.failedHeartbeats++;
      this.notice(`heartbeat failed: ${(err as Error).message}`);
    }
    if (beat) {
      if (beat.renewed) {
        this.knownAliveUntil = sentAt + leaseMs;
        this.toAcknowledge.clear();
      }
      await this.become(roleOf(beat.member));
      for (const command of Object.values(beat.member.commands).sort((a, b) => a.enqueuedAt - b.enqueuedAt)) {
        if (this.handled.has(command.id)) continue;
        await o.onCommand?.(command);
        this.handled.add(command.id);
        this.toAcknowledge.add(command.id);
        this.summary.commands++;
      }
      // This agent may be the one elected: learn it with an immediate heartbeat.
      if (this.role.kind === 'replica' && o.elect !== false && (await tryElect(o, this.now, this.summary, this.notice))) return 0;
    }
    // Wake up in time to self-fence if the next heartbeats fail.
    return this.role.kind === 'primary' ? Math.min(intervalMs, Math.max(0, this.fenceAt - this.now())) : intervalMs;
  }

  /** Leaving (SIGTERM): releases the membership, which starts the failover clock now. */
  async leave(release = true): Promise<void> {
    if (release) {
      try {
        await this.o.coordination.release(this.o.service, this.o.taskArn, this.now());
      } catch (err) {
        this.notice(`could not release the membership: ${(err as Error).message}`);
      }
    }
    await this.become({ kind: 'leaving' });
    this.summary.finalRole = this.role;
  }
}

export async function runAgent(o: AgentOptions): Promise<AgentSummary> {
  const sleep = o.sleep ?? abortableSleep;
  const agent = new AgentMember(o);
  while (!o.signal.aborted) {
    const wait = await agent.tick();
    if (wait > 0) await sleep(wait, o.signal);
  }
  await agent.leave(o.release !== false);
  return agent.summary;
}

/** Returns true when an election was won for this agent (so it should heartbeat at once). */
async function tryElect(o: Omit<AgentOptions, 'signal' | 'sleep'>, now: () => number, summary: AgentSummary, notice: (l: string) => void): Promise<boolean> {
  try {
    const state = await o.coordination.readState(o.service);
    const decision = decideFailover(o.service, state.lease, state.members, o.failover, now());
    if (decision.kind !== 'elect') return false;
    const outcome = await o.coordination.elect(decision.request);
    if (outcome.kind !== 'elected') return false;
    summary.elections++;
    notice(`elected ${outcome.lease.holder} as primary of ${o.service} (term ${outcome.lease.term}, ${decision.request.reason})`);
    await o.timer?.schedule({ service: o.service, dueAt: now(), reason: `term ${outcome.lease.term} elected by an agent` }, now()).catch((err: unknown) => {
      notice(`could not notify the watchdog: ${(err as Error).message}`);
    });
    return outcome.lease.holder === o.taskArn;
  } catch (err) {
    notice(`election attempt failed: ${(err as Error).message}`);
    return false;
  }
}
