/**
 * The coordination store in memory: the same conditional writes as
 * DynamoCoordinationStore, evaluated on plain objects. Used by the property simulation
 * (thousands of histories per second) and by anything that wants a store without a table.
 * The conditions of the election, the heartbeat and enqueue are the domain's rules
 * (isEligible, isLostAt, isStaying): the same data the DynamoDB store renders, not a copy.
 * The shared suite in test/integration/coordination.test.ts holds both to one contract.
 *
 * `core` is synchronous (each method is one atomic conditional write, as in DynamoDB);
 * the class wraps it in the async CoordinationStore interface.
 */
import { type ElectionOutcome, type ElectionRequest, isEligible, isLostAt, isStaying } from '../domain/election.js';
import { ECS_MEMBER_FIELDS, goneAtOf, type Lease, type Member, type MemberCommand, type TaskObservation, withExpiry } from '../domain/membership.js';
import type { CoordinationState, CoordinationStore, Heartbeat, HeartbeatResult, MemberCommands } from './coordination.js';

/** Copies what callers may hold on to; command objects are never mutated in place. */
const cloneMember = (m: Member): Member => ({ ...m, commands: { ...m.commands } });
const cloneLease = (l: Lease): Lease => ({ ...l });

export class MemoryCoordinationCore {
  readonly leases = new Map<string, Lease>();
  /** service → taskArn → member */
  readonly members = new Map<string, Map<string, Member>>();

  private membersOf(service: string): Map<string, Member> {
    let m = this.members.get(service);
    if (!m) this.members.set(service, (m = new Map()));
    return m;
  }

  readState(service: string): CoordinationState {
    const lease = this.leases.get(service);
    const members = [...this.membersOf(service).values()].sort((a, b) => (a.taskArn < b.taskArn ? -1 : 1)).map(cloneMember);
    return { ...(lease ? { lease: withExpiry(cloneLease(lease), members)! } : {}), members };
  }

  recordTaskState(service: string, obs: TaskObservation, now: number): { applied: boolean; member?: Member } {
    const all = this.membersOf(service);
    const cur = all.get(obs.taskArn);
    if (cur?.version !== undefined && !(cur.version < obs.version)) return { applied: false };
    if (cur?.lastStatus === 'STOPPED') return { applied: false };
    const next: Member = { ...(cur ?? { service, taskArn: obs.taskArn, commands: {} }) };
    for (const f of ECS_MEMBER_FIELDS) if (obs[f] !== undefined) (next as unknown as Record<string, unknown>)[f] = obs[f];
    next.updatedAt = now;
    const goneAt = goneAtOf(obs, now);
    if (goneAt !== undefined && next.goneAt === undefined) next.goneAt = goneAt;
    all.set(obs.taskArn, next);
    return { applied: true, member: cloneMember(next) };
  }

  heartbeat(service: string, taskArn: string, beat: Heartbeat): HeartbeatResult {
    const all = this.membersOf(service);
    const cur = all.get(taskArn);
    if (cur && !isStaying(cur)) return { member: cloneMember(cur), renewed: false };
    const next: Member = { ...(cur ?? { service, taskArn, commands: {} }), heartbeatAt: beat.now, aliveUntil: beat.aliveUntil };
    if (beat.dataPosition !== undefined) next.dataPosition = beat.dataPosition;
    next.commands = { ...next.commands };
    for (const id of beat.acknowledge ?? []) delete next.commands[id];
    all.set(taskArn, next);
    return { member: cloneMember(next), renewed: true };
  }

  release(service: string, taskArn: string, now: number): Member | undefined {
    const cur = this.membersOf(service).get(taskArn);
    if (!cur) return undefined;
    if (cur.goneAt === undefined) cur.goneAt = now;
    cur.updatedAt = now;
    return cloneMember(cur);
  }

  elect(req: ElectionRequest): ElectionOutcome {
    const lease = this.leases.get(req.service);
    const all = this.membersOf(req.service);
    // Conditions in the transaction's order; the first failing one names the outcome.
    if (req.observedTerm === 0 ? lease !== undefined : lease?.term !== req.observedTerm) return { kind: 'superseded' };
    const deposing = req.previousHolder !== undefined && req.previousHolder !== req.candidate;
    const prev = deposing ? all.get(req.previousHolder!) : undefined;
    if (deposing) {
      if (req.previousHolderExists) {
        if (prev === undefined || !isLostAt(prev, req.lostCutoff)) return { kind: 'holder-alive' };
      } else if (prev !== undefined) {
        return { kind: 'holder-alive' };
      }
    }
    const cand = all.get(req.candidate);
    if (cand === undefined || !isEligible(cand, req.now)) return { kind: 'candidate-ineligible' };
    const next: Lease = {
      service: req.service,
      holder: req.candidate,
      term: req.observedTerm + 1,
      electedAt: req.now,
      ...(req.previousHolder ? { previousHolder: req.previousHolder } : {}),
    };
    this.leases.set(req.service, next);
    if (prev) {
      delete prev.primaryTerm;
      prev.deposedTerm = req.observedTerm;
      prev.updatedAt = req.now;
    }
    cand.primaryTerm = next.term;
    cand.updatedAt = req.now;
    return { kind: 'elected', lease: cloneLease(next) };
  }

  markMissing(service: string, taskArn: string, now: number): boolean {
    const cur = this.membersOf(service).get(taskArn);
    if (!cur || cur.lastStatus === 'STOPPED') return false;
    cur.lastStatus = 'STOPPED';
    cur.desiredStatus = 'STOPPED';
    if (cur.goneAt === undefined) cur.goneAt = now;
    cur.stoppedReason = 'not found in ECS by the reconciler';
    cur.updatedAt = now;
    return true;
  }

  enqueue(service: string, taskArn: string, command: MemberCommand): 'queued' | 'no-member' | 'gone' {
    const cur = this.membersOf(service).get(taskArn);
    if (!cur) return 'no-member';
    if (!isStaying(cur)) return 'gone';
    cur.commands = { ...cur.commands, [command.id]: { ...command, ...(command.args ? { args: structuredClone(command.args) } : {}) } };
    return 'queued';
  }

  /** The fencing check of a snapshot commit: is `term` the service's current term? */
  isCurrentTerm(service: string, term: number): boolean {
    return this.leases.get(service)?.term === term;
  }
}

export class MemoryCoordinationStore implements CoordinationStore, MemberCommands {
  constructor(readonly core = new MemoryCoordinationCore()) {}
  readState = async (service: string) => this.core.readState(service);
  recordTaskState = async (service: string, obs: TaskObservation, now: number) => this.core.recordTaskState(service, obs, now);
  heartbeat = async (service: string, taskArn: string, beat: Heartbeat) => this.core.heartbeat(service, taskArn, beat);
  release = async (service: string, taskArn: string, now: number) => this.core.release(service, taskArn, now);
  elect = async (req: ElectionRequest) => this.core.elect(req);
  markMissing = async (service: string, taskArn: string, now: number) => this.core.markMissing(service, taskArn, now);
  enqueue = async (service: string, taskArn: string, command: MemberCommand) => this.core.enqueue(service, taskArn, command);
}
