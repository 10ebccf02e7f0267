/**
 * CDK test apps with the feature flags of cdk.json, so tests synthesize what `cdk synth`
 * does. Bundling is skipped unless asked for: esbuild runs only in the tests about bundles.
 */
import { readFileSync } from 'node:fs';
import { App, type Environment, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };

export const FEATURE_FLAGS: Record<string, unknown> = cdkJson.context;

export function testApp(options: { bundle?: boolean } = {}): App {
  return new App({ context: { ...FEATURE_FLAGS, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) } });
}

export function testStack(id = 'Test', env?: Environment): Stack {
  return new Stack(testApp(), id, env ? { env } : {});
}

/** A VPC, a cluster and a Fargate service with one container: what users protect. */
export function fargateService(stack: Stack, id = 'Wiki', options: { cluster?: ecs.ICluster; containers?: string[] } = {}) {
  const cluster =
    options.cluster ??
    new ecs.Cluster(stack, `${id}Cluster`, {
      vpc: new ec2.Vpc(stack, `${id}Vpc`, {
        maxAzs: 2,
        natGateways: 0,
        restrictDefaultSecurityGroup: false,
        subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
      }),
    });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, `${id}Task`);
  for (const name of options.containers ?? ['app'])
    taskDefinition.addContainer(name, { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:stable') });
  const service = new ecs.FargateService(stack, id, {
    cluster,
    taskDefinition,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    circuitBreaker: { rollback: true },
  });
  return { cluster, taskDefinition, service };
}

/** Resolves a synthesized value with fake but recognisable values for Ref and Fn::GetAtt. */
export function evaluateIntrinsics(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(evaluateIntrinsics);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('Ref' in o) return `ref:${String(o.Ref)}`;
    if ('Fn::GetAtt' in o) return `getatt:${(o['Fn::GetAtt'] as string[]).join('.')}`;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => String(evaluateIntrinsics(p))).join(sep);
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, evaluateIntrinsics(v)]));
  }
  return value;
}
