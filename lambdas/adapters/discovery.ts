/**
 * Discovery: where clients find the primary. One Cloud Map instance per service (id
 * `primary` unless the policy says otherwise) carries the primary's address; pointing it
 * at a new primary is one RegisterInstance, which Cloud Map applies as an update of the
 * existing instance, so there is never a moment with two or zero records from Lifeboat.
 *
 * Fencing: the instance carries the primary's term (LIFEBOAT_TERM). A publisher that finds
 * a newer term registered leaves it alone, so a slow invocation cannot point clients back
 * at a deposed primary; the watchdog re-applies the lease's holder, so any race converges.
 */
import { createHash } from 'node:crypto';
import { GetInstanceCommand, RegisterInstanceCommand, type ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { PRIMARY_INSTANCE_ID } from '../contract/keys.js';
import { UnavailableError } from '../domain/errors.js';
import { errorName, translateAwsError } from './aws.js';

export interface PrimaryRecord {
  serviceId: string;
  instanceId?: string;
  ip: string;
  port?: number;
  term: number;
  taskArn: string;
}

export type PublishOutcome = 'registered' | 'unchanged' | 'stale';

export interface PrimaryDiscovery {
  /** Points the discovery record at `record`; harmless to repeat. */
  publish(record: PrimaryRecord): Promise<PublishOutcome>;
}

export const TERM_ATTRIBUTE = 'LIFEBOAT_TERM';
export const TASK_ATTRIBUTE = 'LIFEBOAT_TASK';

/** The attributes RegisterInstance gets for a primary. */
export function primaryAttributes(record: PrimaryRecord): Record<string, string> {
  return {
    AWS_INSTANCE_IPV4: record.ip,
    ...(record.port !== undefined ? { AWS_INSTANCE_PORT: String(record.port) } : {}),
    [TERM_ATTRIBUTE]: String(record.term),
    [TASK_ATTRIBUTE]: record.taskArn,
  };
}

export class CloudMapDiscovery implements PrimaryDiscovery {
  constructor(private readonly client: ServiceDiscoveryClient) {}

  async publish(record: PrimaryRecord): Promise<PublishOutcome> {
    const instanceId = record.instanceId ?? PRIMARY_INSTANCE_ID;
    const wanted = primaryAttributes(record);
    let current: Record<string, string> | undefined;
    try {
      const out = await this.client.send(new GetInstanceCommand({ ServiceId: record.serviceId, InstanceId: instanceId }));
      current = out.Instance?.Attributes;
    } catch (err) {
      if (errorName(err) !== 'InstanceNotFound') throw this.translate(err, record.serviceId);
    }
    if (current) {
      const registeredTerm = Number(current[TERM_ATTRIBUTE]);
      if (Number.isFinite(registeredTerm) && registeredTerm > record.term) return 'stale';
      if (Object.entries(wanted).every(([k, v]) => current[k] === v)) return 'unchanged';
    }
    try {
      await this.client.send(
        new RegisterInstanceCommand({
          ServiceId: record.serviceId,
          InstanceId: instanceId,
          // Same request retried (SDK retry, duplicate invocation) is applied once.
          CreatorRequestId: `lifeboat-${record.term}-${createHash('sha256').update(`${record.serviceId}|${record.taskArn}|${record.ip}`).digest('hex').slice(0, 32)}`,
          Attributes: wanted,
        }),
      );
    } catch (err) {
      throw this.translate(err, record.serviceId);
    }
    return 'registered';
  }

  private translate(err: unknown, serviceId: string): unknown {
    const t = translateAwsError(err, `Cloud Map service ${serviceId}`);
    if (t !== err) return t;
    if (errorName(err) === 'ServiceNotFound') {
      return new UnavailableError(`Cloud Map service ${serviceId} does not exist`, { hint: "fix the service's discovery.serviceId in its policy" });
    }
    return err;
  }
}
