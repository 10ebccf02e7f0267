/**
 * Which protected service an ECS task belongs to. ECS events name the ECS service
 * (`group: service:<name>`); a policy names its ECS service in `ecs.serviceName` when it
 * differs from the protected service's own name. Policies are cached briefly: a Lambda
 * sees many events for the same few services. A miss re-reads the registry (at most every
 * few seconds), so a newly protected service is recognised at once.
 */

import type { ServiceRegistry } from '../adapters/service-registry.js';
import type { ServicePolicy } from '../domain/service-policy.js';

export class ServiceResolver {
  private cache: { at: number; byEcsName: Map<string, ServicePolicy[]> } | undefined;

  constructor(
    private readonly registry: Pick<ServiceRegistry, 'get' | 'list'>,
    private readonly now: () => number,
    private readonly ttlMs = 60_000,
    private readonly missRefreshMs = 5_000,
  ) {}

  /** The protected service an ECS service's task belongs to, if any. */
  async resolve(ecsServiceName: string, clusterArn?: string): Promise<ServicePolicy | undefined> {
    const pick = (index: Map<string, ServicePolicy[]>) =>
      // Two clusters may run ECS services of the same name; the policy's cluster decides.
      (index.get(ecsServiceName) ?? []).find((p) => !p.ecs?.cluster || !clusterArn || sameCluster(p.ecs.cluster, clusterArn));
    const found = pick(await this.index());
    // A service protected since the cache was filled: look again, at most every few seconds.
    if (!found && this.cache && this.now() - this.cache.at >= this.missRefreshMs) return pick(await this.index(true));
    return found;
  }

  async policy(service: string): Promise<ServicePolicy | undefined> {
    return this.registry.get(service);
  }

  /** Every protected service's name. */
  registryList(): Promise<string[]> {
    return this.registry.list();
  }

  private async index(refresh = false): Promise<Map<string, ServicePolicy[]>> {
    const now = this.now();
    if (!refresh && this.cache && now - this.cache.at < this.ttlMs) return this.cache.byEcsName;
    const byEcsName = new Map<string, ServicePolicy[]>();
    for (const name of await this.registry.list()) {
      const policy = await this.registry.get(name);
      if (!policy) continue;
      const ecsName = policy.ecs?.serviceName ?? policy.service;
      byEcsName.set(ecsName, [...(byEcsName.get(ecsName) ?? []), policy]);
    }
    this.cache = { at: now, byEcsName };
    return byEcsName;
  }
}

/** A cluster given as a name or an ARN matches the event's cluster ARN. */
export function sameCluster(configured: string, clusterArn: string): boolean {
  return configured === clusterArn || clusterArn.endsWith(`:cluster/${configured}`);
}
