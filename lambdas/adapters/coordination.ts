/**
 * The coordination store: a service's lease and members, and the conditional writes that
 * keep "one primary per term" true however many electors, events and agents race.
 *
 * Every write is a single conditional UpdateItem or one TransactWriteItems, so there is no
 * read-modify-write window. The election's conditions are the rules of domain/election.ts
 * (ELIGIBILITY, LOSS) rendered by dynamo-condition.ts, not written again here. MemoryCoordinationStore (memory-coordination.ts)
 * implements the same contract in memory for the property simulation; one shared suite
 * (test/integration/coordination.test.ts) runs against both.
 */
import { type DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { coordinationRange, LEASE_SK, leaseKey, memberKey, TABLE_KEY, TTL_ATTRIBUTE, taskArnFromMemberSk } from '../contract/keys.js';
import { ELIGIBILITY, type ElectionOutcome, type ElectionRequest, LOSS, STAYING } from '../domain/election.js';
import {
  ECS_MEMBER_FIELDS,
  goneAtOf,
  type Lease,
  type Member,
  type MemberCommand,
  stoppedMemberExpiry,
  type TaskObservation,
  withExpiry,
} from '../domain/membership.js';
import { errorName, tableError } from './aws.js';
import { Expr, renderRule } from './dynamo-condition.js';
import { DynamoTable } from './dynamo-table.js';

export interface CoordinationState {
  lease?: Lease;
  members: Member[];
}

export interface Heartbeat {
  now: number;
  /** now + lease duration: the member (and, for the primary, its lease) is alive until then. */
  aliveUntil: number;
  dataPosition?: number;
  /** Ids of commands the agent has handled; removed in the same write. */
  acknowledge?: readonly string[];
}

export interface HeartbeatResult {
  /** The member item after the write (or as it was, when the write was refused). */
  member: Member;
  /** false when the member is going away (ECS stopping it, or released): nothing renewed. */
  renewed: boolean;
}

export interface CoordinationStore {
  /** Strongly consistent read of the lease and every member (one Query). */
  readState(service: string): Promise<CoordinationState>;
  /** Applies what ECS says about a task, unless a newer version was applied already or it is STOPPED. */
  recordTaskState(service: string, obs: TaskObservation, now: number): Promise<{ applied: boolean; member?: Member }>;
  /**
   * The agent's heartbeat: ONE conditional UpdateItem that renews the member (and so the
   * lease, when it is primary), acknowledges handled commands and returns the item: its
   * role (`primaryTerm`) and pending commands. Refused, with the current item, once the
   * member is going away.
   */
  heartbeat(service: string, taskArn: string, beat: Heartbeat): Promise<HeartbeatResult>;
  /** The agent is leaving (SIGTERM): marks it gone now, which starts the failover clock. */
  release(service: string, taskArn: string, now: number): Promise<Member | undefined>;
  /** The election write; see ElectionRequest. */
  elect(request: ElectionRequest): Promise<ElectionOutcome>;
  /** The reconciler found no such task in ECS: record it as stopped (unless it already is). */
  markMissing(service: string, taskArn: string, now: number): Promise<boolean>;
}

/** Other components hand the agent work through its member item. */
export interface MemberCommands {
  /** Appends a command for the member; delivered with its next heartbeats until acknowledged. */
  enqueue(service: string, taskArn: string, command: MemberCommand): Promise<'queued' | 'no-member' | 'gone'>;
}

type Item = Record<string, unknown>;

export function memberFromItem(item: Item): Member {
  const { pk: _pk, sk, type: _type, [TTL_ATTRIBUTE]: _ttl, commands, ...rest } = item;
  return { ...(rest as Omit<Member, 'commands'>), taskArn: taskArnFromMemberSk(String(sk)), commands: (commands as Member['commands']) ?? {} };
}

export function leaseFromItem(item: Item): Lease {
  return {
    service: String(item.service),
    holder: String(item.holder),
    term: Number(item.term),
    electedAt: Number(item.electedAt),
    ...(item.previousHolder ? { previousHolder: String(item.previousHolder) } : {}),
  };
}

export class DynamoCoordinationStore implements CoordinationStore, MemberCommands {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  private fail(err: unknown, action: string): never {
    throw tableError(err, this.table, action);
  }

  async readState(service: string): Promise<CoordinationState> {
    // The lease and every member in one consistent Query (keys.ts: LEASE sorts just before MEMBER#…).
    const { pk, from, to } = coordinationRange(service);
    const state: CoordinationState = { members: [] };
    for await (const item of new DynamoTable(this.client, this.table).query({ pk, range: { from, to } })) {
      if (item[TABLE_KEY.sort] === LEASE_SK) state.lease = leaseFromItem(item);
      else state.members.push(memberFromItem(item));
    }
    if (state.lease) state.lease = withExpiry(state.lease, state.members);
    return state;
  }

  async recordTaskState(service: string, obs: TaskObservation, now: number): Promise<{ applied: boolean; member?: Member }> {
    const e = new Expr();
    const sets: string[] = [];
    const set = (attr: string, v: unknown) => {
      if (v !== undefined) sets.push(`${e.name(attr)} = ${e.value(v)}`);
    };
    set('type', 'member');
    set('service', service);
    for (const field of ECS_MEMBER_FIELDS) set(field, obs[field]);
    set('updatedAt', now);
    sets.push(`${e.name('commands')} = if_not_exists(${e.name('commands')}, ${e.value({})})`);
    const goneAt = goneAtOf(obs, now);
    // Set once: the first sign of going away starts the failover clock.
    if (goneAt !== undefined) sets.push(`${e.name('goneAt')} = if_not_exists(${e.name('goneAt')}, ${e.value(goneAt)})`);
    if (obs.lastStatus === 'STOPPED') set(TTL_ATTRIBUTE, stoppedMemberExpiry(now));
    const version = e.name('version');
    const lastStatus = e.name('lastStatus');
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: memberKey(service, obs.taskArn),
          UpdateExpression: `SET ${sets.join(', ')}`,
          // ECS may deliver events late, twice or out of order: only a newer version counts,
          // and STOPPED is final (a task never runs again; the reconciler may have said so).
          ConditionExpression:
            `(attribute_not_exists(${version}) OR ${version} < ${e.value(obs.version)}) AND ` +
            `(attribute_not_exists(${lastStatus}) OR ${lastStatus} <> ${e.value('STOPPED')})`,
          ExpressionAttributeNames: e.names,
          ExpressionAttributeValues: e.values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { applied: true, member: memberFromItem(out.Attributes ?? {}) };
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return { applied: false };
      this.fail(err, 'UpdateItem');
    }
  }

  async heartbeat(service: string, taskArn: string, beat: Heartbeat): Promise<HeartbeatResult> {
    const acks = [...new Set(beat.acknowledge ?? [])];
    try {
      return await this.sendHeartbeat(service, taskArn, beat, acks);
    } catch (err) {
      // Acknowledging needs the commands map; if the item was re-created without it, the
      // path is invalid: renew without acknowledging (the commands are gone anyway).
      if (acks.length && errorName(err) === 'ValidationException') return this.sendHeartbeat(service, taskArn, beat, []);
      throw err;
    }
  }

  private async sendHeartbeat(service: string, taskArn: string, beat: Heartbeat, acks: string[]): Promise<HeartbeatResult> {
    const e = new Expr();
    const commands = e.name('commands');
    const sets = [
      `${e.name('type')} = ${e.value('member')}`,
      `${e.name('service')} = ${e.value(service)}`,
      `${e.name('heartbeatAt')} = ${e.value(beat.now)}`,
      `${e.name('aliveUntil')} = ${e.value(beat.aliveUntil)}`,
    ];
    if (beat.dataPosition !== undefined) sets.push(`${e.name('dataPosition')} = ${e.value(beat.dataPosition)}`);
    // The same path cannot be both initialised and have keys removed in one expression.
    if (!acks.length) sets.push(`${commands} = if_not_exists(${commands}, ${e.value({})})`);
    const removes = acks.map((id, i) => {
      const key = `#ack${i}`;
      e.names[key] = id;
      return `${commands}.${key}`;
    });
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: memberKey(service, taskArn),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          // Refused once the member is going away (domain STAYING).
          ConditionExpression: renderRule(STAYING, {}, e),
          ExpressionAttributeNames: e.names,
          ExpressionAttributeValues: e.values,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { member: memberFromItem(out.Attributes ?? {}), renewed: true };
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') {
        // The refused write's item comes back as raw AttributeValues (the document client
        // does not unmarshall error payloads).
        const old = (err as { Item?: Parameters<typeof unmarshall>[0] }).Item;
        if (old) return { member: memberFromItem(unmarshall(old)), renewed: false };
      }
      // Handed back to heartbeat(), which renews again without acknowledging.
      if (acks.length && errorName(err) === 'ValidationException') throw err;
      this.fail(err, 'UpdateItem');
    }
  }

  async release(service: string, taskArn: string, now: number): Promise<Member | undefined> {
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: memberKey(service, taskArn),
          UpdateExpression: 'SET #goneAt = if_not_exists(#goneAt, :now), #updatedAt = :now',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#goneAt': 'goneAt', '#updatedAt': 'updatedAt', '#pk': TABLE_KEY.partition },
          ExpressionAttributeValues: { ':now': now },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return memberFromItem(out.Attributes ?? {});
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return undefined;
      this.fail(err, 'UpdateItem');
    }
  }

  async elect(req: ElectionRequest): Promise<ElectionOutcome> {
    const newTerm = req.observedTerm + 1;
    const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [];
    const roles: Array<'lease' | 'holder' | 'candidate'> = [];
    items.push({
      Put: {
        TableName: this.table,
        Item: {
          ...leaseKey(req.service),
          type: 'lease',
          service: req.service,
          holder: req.candidate,
          term: newTerm,
          electedAt: req.now,
          updatedAt: req.now,
          ...(req.previousHolder ? { previousHolder: req.previousHolder } : {}),
        },
        ConditionExpression: req.observedTerm === 0 ? 'attribute_not_exists(#pk)' : '#term = :observed',
        ExpressionAttributeNames: req.observedTerm === 0 ? { '#pk': TABLE_KEY.partition } : { '#term': 'term' },
        ...(req.observedTerm === 0 ? {} : { ExpressionAttributeValues: { ':observed': req.observedTerm } }),
      },
    });
    roles.push('lease');
    if (req.previousHolder !== undefined && req.previousHolder !== req.candidate) {
      if (req.previousHolderExists) {
        // Still lost (domain LOSS), and for long enough: a heartbeat since the read cancels the election.
        const e = new Expr();
        const lost = renderRule(LOSS, { cutoff: req.lostCutoff }, e);
        items.push({
          Update: {
            TableName: this.table,
            Key: memberKey(req.service, req.previousHolder),
            UpdateExpression: `REMOVE ${e.name('primaryTerm')} SET ${e.name('deposedTerm')} = ${e.value(req.observedTerm)}, ${e.name('updatedAt')} = ${e.value(req.now)}`,
            ConditionExpression: `attribute_exists(${e.name(TABLE_KEY.partition)}) AND ${lost}`,
            ExpressionAttributeNames: e.names,
            ExpressionAttributeValues: e.values,
          },
        });
      } else {
        items.push({
          ConditionCheck: {
            TableName: this.table,
            Key: memberKey(req.service, req.previousHolder),
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': TABLE_KEY.partition },
          },
        });
      }
      roles.push('holder');
    }
    // Still eligible (domain ELIGIBILITY) at the election's time.
    const e = new Expr();
    const eligible = renderRule(ELIGIBILITY, { now: req.now }, e);
    items.push({
      Update: {
        TableName: this.table,
        Key: memberKey(req.service, req.candidate),
        UpdateExpression: `SET ${e.name('primaryTerm')} = ${e.value(newTerm)}, ${e.name('updatedAt')} = ${e.value(req.now)}`,
        ConditionExpression: eligible,
        ExpressionAttributeNames: e.names,
        ExpressionAttributeValues: e.values,
      },
    });
    roles.push('candidate');
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (err) {
      if (errorName(err) === 'TransactionCanceledException') {
        const reasons = ((err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).map((r) => r.Code);
        const failed = (role: 'lease' | 'holder' | 'candidate') => reasons[roles.indexOf(role)] === 'ConditionalCheckFailed';
        if (failed('lease')) return { kind: 'superseded' };
        if (failed('holder')) return { kind: 'holder-alive' };
        if (failed('candidate')) return { kind: 'candidate-ineligible' };
        return { kind: 'conflict' };
      }
      if (errorName(err) === 'TransactionConflictException') return { kind: 'conflict' };
      this.fail(err, 'TransactWriteItems');
    }
    return {
      kind: 'elected',
      lease: {
        service: req.service,
        holder: req.candidate,
        term: newTerm,
        electedAt: req.now,
        ...(req.previousHolder ? { previousHolder: req.previousHolder } : {}),
      },
    };
  }

  async markMissing(service: string, taskArn: string, now: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: memberKey(service, taskArn),
          UpdateExpression:
            'SET #lastStatus = :stopped, #desiredStatus = :stopped, #goneAt = if_not_exists(#goneAt, :now), #stoppedReason = :why, #updatedAt = :now, #ttl = :ttl',
          ConditionExpression: 'attribute_exists(#pk) AND #lastStatus <> :stopped',
          ExpressionAttributeNames: {
            '#pk': TABLE_KEY.partition,
            '#lastStatus': 'lastStatus',
            '#desiredStatus': 'desiredStatus',
            '#goneAt': 'goneAt',
            '#stoppedReason': 'stoppedReason',
            '#updatedAt': 'updatedAt',
            '#ttl': TTL_ATTRIBUTE,
          },
          ExpressionAttributeValues: { ':stopped': 'STOPPED', ':now': now, ':why': 'not found in ECS by the reconciler', ':ttl': stoppedMemberExpiry(now) },
        }),
      );
      return true;
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') return false;
      this.fail(err, 'UpdateItem');
    }
  }

  async enqueue(service: string, taskArn: string, command: MemberCommand): Promise<'queued' | 'no-member' | 'gone'> {
    const e = new Expr();
    const commands = e.name('commands');
    e.names['#id'] = command.id;
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: memberKey(service, taskArn),
          UpdateExpression: `SET ${commands}.#id = ${e.value(command)}`,
          // Every member item is created with an empty map, so the nested path exists; a
          // member going away gets no more commands (domain STAYING).
          ConditionExpression: `attribute_exists(${commands}) AND ${renderRule(STAYING, {}, e)}`,
          ExpressionAttributeNames: e.names,
          ExpressionAttributeValues: e.values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'queued';
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') {
        return (err as { Item?: Item }).Item ? 'gone' : 'no-member';
      }
      this.fail(err, 'UpdateItem');
    }
  }
}
