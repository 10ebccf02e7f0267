/**
 * The custom resource behind `protect()`, against DynamoDB Local: what the construct
 * synthesizes is stored through DynamoServiceRegistry.put and read back by .get, and
 * CloudFormation always gets an answer at its response URL.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Duration, TimeZone } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { type CustomResourceResponse, createServiceConfigHandler, respondToCloudFormation } from '../../lambdas/handlers/service-config.js';
import { createRuntime } from '../../lambdas/runtime/runtime.js';
import { Lifeboat } from '../../lib/index.js';
import { evaluateIntrinsics, fargateService, testStack } from '../support/cdk.js';
import { freshTable } from '../support/fixtures.js';

/** A stand-in for CloudFormation's pre-signed S3 URL: records every PUT. */
let server: Server;
let responseUrl: string;
const received: { headers: Record<string, unknown>; body: CustomResourceResponse }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(body) as CustomResourceResponse });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response?X-Amz-Signature=x`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** The Policy property exactly as the construct synthesizes it, tokens given fake values. */
let policyText: string | undefined;
function synthesizedPolicy(): string {
  return (policyText ??= synthesize());
}

function synthesize(): string {
  const stack = testStack('Config');
  new Lifeboat(stack, 'Lifeboat').protect(fargateService(stack).service, {
    name: 'wiki',
    dataDirectory: '/var/lib/wiki',
    retention: { keepDaily: 7, keepWithin: '2d' },
    drill: {
      schedule: ScheduleExpression.cron({ hour: '3', minute: '0', timeZone: TimeZone.EUROPE_PARIS }),
      verifyCommand: 'wiki-check',
      timeout: Duration.minutes(20),
    },
    targets: { rpo: Duration.hours(1) },
    failover: { timeout: Duration.seconds(10), lease: Duration.seconds(20) },
  });
  const [resource] = Object.values(Template.fromStack(stack).findResources('Custom::LifeboatService'));
  return evaluateIntrinsics(resource!.Properties.Policy) as string;
}

const event = (requestType: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {}) => ({
  RequestType: requestType,
  ResponseURL: responseUrl,
  StackId: 'arn:aws:cloudformation:eu-west-1:111111111111:stack/Example/1',
  RequestId: `req-${Math.random().toString(16).slice(2)}`,
  LogicalResourceId: 'LifeboatServicewikiPolicy',
  ResourceType: 'Custom::LifeboatService',
  ResourceProperties: { ServiceToken: 'arn:aws:lambda:fn', Policy: synthesizedPolicy() },
  ...extra,
});

describe('service-config custom resource', () => {
  it('GIVEN the policy the construct synthesizes WHEN created THEN DynamoServiceRegistry.get reads back exactly that policy, normalized', async () => {
    const registry = new DynamoServiceRegistry(createDynamoClient(), await freshTable());
    const handler = createServiceConfigHandler({ registry });
    const e = event('Create');
    const response = await handler(e);
    expect(response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'service:wiki', Data: { Service: 'wiki' } });
    expect(received.at(-1)!.body).toEqual(response);
    expect(received.at(-1)!.headers['content-type']).toBe('');
    const stored = await registry.get('wiki');
    expect(stored).toEqual(normalizeServicePolicy(JSON.parse(e.ResourceProperties.Policy)));
    expect(stored).toMatchObject({
      service: 'wiki',
      dataDir: '/var/lib/wiki',
      ecs: { containerName: 'app', launchType: 'FARGATE', assignPublicIp: false },
      retention: { daily: 7, within: '2d', schedule: 'cron(0 4 * * ? *)' },
      drill: { schedule: 'cron(0 3 * * ? *)', timezone: 'Europe/Paris', verifyCommand: 'wiki-check', timeoutSeconds: 1200 },
      targets: { rpoSeconds: 3600 },
      failover: { timeoutSeconds: 10, leaseSeconds: 20, heartbeatSeconds: 5 },
    });
    expect(await registry.list()).toEqual(['wiki']);
  });

  it('GIVEN a stored policy WHEN its resource is deleted THEN the service is unprotected, but not when another resource owns it now', async () => {
    const registry = new DynamoServiceRegistry(createDynamoClient(), await freshTable());
    const handler = createServiceConfigHandler({ registry });
    await handler(event('Create'));
    // protect() moved to another construct: CloudFormation creates the new resource, then deletes the old one.
    await handler(event('Create', { LogicalResourceId: 'MovedPolicy' }));
    const old = await handler(event('Delete', { PhysicalResourceId: 'service:wiki' }));
    expect(old.Status).toBe('SUCCESS');
    expect(await registry.list()).toEqual(['wiki']);
    await handler(event('Delete', { LogicalResourceId: 'MovedPolicy', PhysicalResourceId: 'service:wiki' }));
    expect(await registry.list()).toEqual([]);
    expect(await registry.get('wiki')).toBeUndefined();
  });

  it('GIVEN a policy the runtime refuses WHEN created THEN CloudFormation gets FAILED with the reason, and the rollback delete removes nothing', async () => {
    const registry = new DynamoServiceRegistry(createDynamoClient(), await freshTable());
    const handler = createServiceConfigHandler({ registry });
    const bad = JSON.stringify({ service: 'wiki', failover: { timeoutSeconds: 99999 } });
    const response = await handler(event('Create', { ResourceProperties: { Policy: bad } }));
    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toMatch(/failover.timeoutSeconds is 99999/);
    expect(response.PhysicalResourceId).toMatch(/^failed:/);
    expect((await handler(event('Delete', { PhysicalResourceId: response.PhysicalResourceId }))).Status).toBe('SUCCESS');
    expect(await registry.list()).toEqual([]);
  });

  it('GIVEN a missing table setting WHEN invoked THEN CloudFormation still gets an answer', async () => {
    // The runtime's table setting is read inside the request; there it throws.
    const handler = createServiceConfigHandler(createRuntime({}));
    const response = await handler(event('Update', { PhysicalResourceId: 'service:wiki' }));
    expect(response).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/^LIFEBOAT_TABLE is not set/), PhysicalResourceId: 'service:wiki' });
    expect(received.at(-1)!.body.Status).toBe('FAILED');
  });

  it('GIVEN a response URL that fails at first WHEN responding THEN it retries', async () => {
    let calls = 0;
    const flaky = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(++calls < 2 ? 503 : 200).end());
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    try {
      await respondToCloudFormation(`http://127.0.0.1:${(flaky.address() as AddressInfo).port}/`, {
        Status: 'SUCCESS',
        PhysicalResourceId: 'x',
        StackId: 's',
        RequestId: 'r',
        LogicalResourceId: 'l',
      });
      expect(calls).toBe(2);
    } finally {
      await new Promise<void>((r) => flaky.close(() => r()));
    }
  });
});
