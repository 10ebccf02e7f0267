/**
 * Local mode runs the topology production has: the EventBridge rules, Scheduler schedules
 * and SQS event source mapping of the synthesized construct are compared with what local
 * mode wires (lambdas/local/wiring.ts, which LocalMode iterates), for the example service's
 * policy (examples/kv/lifeboat-policy.json) protected both ways. Any difference fails:
 * a pattern, an expression, a time zone, an input, a target handler, a batch setting.
 */
import { readFileSync } from 'node:fs';
import { TimeZone } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { beforeAll, describe, expect, it } from 'vitest';
import { type HandlerId, SCHEDULED_TIME } from '../../lambdas/contract/triggers.js';
import type { ServicePolicyInput } from '../../lambdas/domain/service-policy.js';
import { examplePolicy } from '../../lambdas/local/local-mode.js';
import { type LocalWiring, localWiring } from '../../lambdas/local/wiring.js';
import { Lifeboat } from '../../lib/index.js';
import { fargateService, testStack } from '../support/cdk.js';

const raw = JSON.parse(readFileSync(new URL('../../examples/kv/lifeboat-policy.json', import.meta.url), 'utf8')) as ServicePolicyInput & {
  snapshot: { schedule: string; timezone?: string };
  retention: { schedule: string; timezone?: string };
  drill: { schedule: string; timezone?: string; verifyCommand: string };
};
const CLUSTER = '<cluster>';
const AT = new Date('2026-11-27T03:00:00.000Z');

interface Rule {
  handler: HandlerId;
  pattern: unknown;
}
interface Schedule {
  handler: HandlerId;
  expression: string;
  timezone?: string;
  input: unknown;
}
interface Queue {
  handler: HandlerId;
  batchSize: number;
  reportBatchItemFailures: boolean;
}

/** The cluster filter, whatever its value, as one placeholder (a token in the template, an ARN locally). */
function withoutCluster(pattern: Record<string, unknown>): unknown {
  const detail = pattern.detail as Record<string, unknown>;
  expect(detail.clusterArn, 'every rule is held to the protected clusters').toHaveLength(1);
  return { ...pattern, detail: { ...detail, clusterArn: [CLUSTER] } };
}

const byKey = <T>(items: T[]) => [...items].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

let deployed: { rules: Rule[]; schedules: Schedule[]; queues: Queue[] };
let local: LocalWiring;

beforeAll(() => {
  const stack = testStack('Wiring');
  const { service } = fargateService(stack, 'Kv');
  const lifeboat = new Lifeboat(stack, 'Lifeboat');
  const schedule = (s: { schedule: string; timezone?: string }) => ScheduleExpression.expression(s.schedule, TimeZone.of(s.timezone ?? 'Etc/UTC'));
  lifeboat.protect(service, {
    name: raw.service,
    dataDirectory: raw.dataDir!,
    snapshot: { schedule: schedule(raw.snapshot) },
    retention: { schedule: schedule(raw.retention), keepLast: 3 },
    drill: { schedule: schedule(raw.drill), verifyCommand: raw.drill.verifyCommand },
  });
  const template = Template.fromStack(stack);

  // Function logical id → handler id.
  const handlerOf = new Map<string, HandlerId>();
  for (const [id, fn] of Object.entries(lifeboat.functions)) handlerOf.set(stack.getLogicalId(fn.node.defaultChild as CfnFunction), id as HandlerId);
  const target = (arn: unknown): HandlerId => {
    const logicalId = (arn as { 'Fn::GetAtt'?: [string, string]; Ref?: string })['Fn::GetAtt']?.[0] ?? (arn as { Ref?: string }).Ref;
    const handler = handlerOf.get(String(logicalId));
    expect(handler, `target ${JSON.stringify(arn)} is a Lifeboat function`).toBeDefined();
    return handler!;
  };

  const rules = Object.values(template.findResources('AWS::Events::Rule')).map((r) => {
    const p = r.Properties as { EventPattern: Record<string, unknown>; Targets: { Arn: unknown }[] };
    expect(p.Targets).toHaveLength(1);
    return { handler: target(p.Targets[0]!.Arn), pattern: withoutCluster(p.EventPattern) };
  });
  const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')).map((r) => {
    const p = r.Properties as { ScheduleExpression: string; ScheduleExpressionTimezone?: string; Target: { Arn: unknown; Input: string } };
    // Scheduler fills in the scheduled time; the comparison fills in the same time on both sides.
    const input = JSON.parse(p.Target.Input.split(SCHEDULED_TIME).join(AT.toISOString())) as unknown;
    return {
      handler: target(p.Target.Arn),
      expression: p.ScheduleExpression,
      ...(p.ScheduleExpressionTimezone ? { timezone: p.ScheduleExpressionTimezone } : {}),
      input,
    };
  });
  const queues = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).map((r) => {
    const p = r.Properties as { FunctionName: unknown; BatchSize: number; FunctionResponseTypes?: string[] };
    return {
      handler: target(p.FunctionName),
      batchSize: p.BatchSize,
      reportBatchItemFailures: (p.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
    };
  });
  deployed = { rules, schedules, queues };
  local = localWiring({ clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/local', policy: examplePolicy(raw) });
}, 600_000);

describe('local mode wiring against the synthesized template', () => {
  it('has the same EventBridge rules: patterns and target handlers', () => {
    const wired: Rule[] = local.rules.map((r) => ({ handler: r.handler, pattern: withoutCluster(r.pattern as Record<string, unknown>) }));
    expect(wired.length).toBeGreaterThan(0);
    expect(byKey(wired)).toEqual(byKey(deployed.rules));
  });

  it('has the same schedules: expressions, time zones, inputs and target handlers', () => {
    const wired: Schedule[] = [...local.schedules, ...local.serviceSchedules].map((s) => ({
      handler: s.handler,
      expression: s.expression,
      // Local mode's scheduler runs a schedule without a zone in UTC, the zone the construct writes then.
      timezone: s.timezone ?? 'Etc/UTC',
      input: s.input(AT),
    }));
    expect(local.serviceSchedules.map((s) => s.policy)).toEqual(['snapshot', 'retention', 'drill']);
    expect(byKey(wired)).toEqual(byKey(deployed.schedules));
  });

  it('has the same queue consumer and batch settings', () => {
    expect(local.queues.length).toBe(1);
    expect(byKey(local.queues.map((q) => ({ ...q })))).toEqual(byKey(deployed.queues));
  });
});
