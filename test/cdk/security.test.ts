/**
 * docs/SECURITY.md, as a test: synthesize two protected services (one with discovery in a
 * DNS namespace, one taking dump snapshots with its own task definition), then read every
 * task role's and every Lambda's identity policies and the bucket policy from the template
 * and check them against the "must not" statements, resource by resource. A grant added
 * later that breaks a statement fails here with the role and the statement it breaks.
 */
import type { Stack } from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';
import { beforeAll, describe, expect, it } from 'vitest';
import { Lifeboat } from '../../lib/index.js';
import { TASK_DENIED_S3_ACTIONS } from '../../lib/lifeboat.js';
import { evaluateIntrinsics, fargateService, testStack } from '../support/cdk.js';

interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const actionsOf = (s: Statement): string[] => list(s.Action);
const resourcesOf = (s: Statement): string[] => list(evaluateIntrinsics(s.Resource) as string | string[]);

/** Does an IAM action pattern (with * wildcards) match the action? */
const matches = (pattern: string, action: string): boolean =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(action);
const grants = (s: Statement, action: string): boolean => s.Effect === 'Allow' && actionsOf(s).some((p) => matches(p, action));

let stack: Stack;
let template: Template;
/** Identity-policy statements per role logical id. */
const roleStatements = new Map<string, Statement[]>();
let bucketPolicy: Statement[];
/** Task roles by service name, and the Lambda roles by function id. */
const taskRoles = new Map<string, string[]>();
const lambdaRoles = new Map<string, string>();
const runnableTaskDefinitions = new Set<string>();

beforeAll(() => {
  stack = testStack('Security');
  const wiki = fargateService(stack, 'Wiki');
  const namespace = new cloudmap.PrivateDnsNamespace(stack, 'Namespace', {
    name: 'internal',
    vpc: new ec2.Vpc(stack, 'NsVpc', { maxAzs: 1, natGateways: 0, restrictDefaultSecurityGroup: false }),
  });
  const lifeboat = new Lifeboat(stack, 'Lifeboat');
  lifeboat.protect(wiki.service, {
    name: 'wiki',
    dataDirectory: '/data',
    discovery: { service: namespace.createService('Primary', { name: 'wiki-primary' }), port: 5432 },
    drill: { verifyCommand: 'test -f /data/ok' },
    retention: { keepDaily: 7 },
  });
  const db = fargateService(stack, 'Db', { cluster: wiki.cluster });
  const dumpTask = new ecs.FargateTaskDefinition(stack, 'DumpTask');
  dumpTask.addContainer('dump', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/postgres:16') });
  lifeboat.protect(db.service, {
    name: 'db',
    dataDirectory: '/dump',
    snapshot: { mode: 'dump', dumpTaskDefinition: dumpTask, schedule: ScheduleExpression.rate(Duration.hours(6)) },
  });
  template = Template.fromStack(stack);

  for (const [, policy] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    for (const role of list(policy.Properties.Roles) as { Ref: string }[]) {
      roleStatements.set(role.Ref, [...(roleStatements.get(role.Ref) ?? []), ...(policy.Properties.PolicyDocument.Statement as Statement[])]);
    }
  }
  const roleOfArn = (arn: unknown) => (arn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const taskDefs = template.findResources('AWS::ECS::TaskDefinition');
  for (const [id, td] of Object.entries(taskDefs)) {
    const service = id.startsWith('Wiki') ? 'wiki' : 'db';
    taskRoles.set(service, [...(taskRoles.get(service) ?? []), roleOfArn(td.Properties.TaskRoleArn)]);
    runnableTaskDefinitions.add(`ref:${id}`);
  }
  for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) lambdaRoles.set(id, roleOfArn(fn.Properties.Role));
  const [bp] = Object.values(template.findResources('AWS::S3::BucketPolicy'));
  bucketPolicy = bp!.Properties.PolicyDocument.Statement as Statement[];
});

const allTaskRoles = () => [...taskRoles.entries()].flatMap(([service, roles]) => roles.map((role) => ({ service, role })));

describe('statement 1: a task cannot delete, overwrite or truncate a stored object', () => {
  it('GIVEN each task role THEN its S3 grants are read, create and abort-upload, only under its own prefix', () => {
    expect(allTaskRoles()).toHaveLength(3); // wiki, db, db's dump task
    for (const { service, role } of allTaskRoles()) {
      for (const s of roleStatements.get(role) ?? []) {
        if (s.Effect !== 'Allow') continue;
        for (const action of actionsOf(s).filter((a) => a.startsWith('s3:') || a === '*')) {
          expect(['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListBucket'], `${role} may ${action}`).toContain(action);
          if (action === 's3:ListBucket') continue;
          for (const r of resourcesOf(s)) expect(r, `${role}: ${action} on ${r}`).toMatch(new RegExp(`/${service}/\\*$`));
        }
      }
    }
  });

  it('GIVEN the bucket policy THEN each task role is denied writes without If-None-Match and every destructive action', () => {
    for (const { role } of allTaskRoles()) {
      const about = bucketPolicy.filter((s) => s.Effect === 'Deny' && JSON.stringify(s.Principal).includes(`"${role}"`));
      const conditional = about.find((s) => actionsOf(s).includes('s3:PutObject'));
      expect(conditional?.Condition, `${role}: no conditional-write deny`).toEqual({
        Null: { 's3:if-none-match': 'true' },
        Bool: { 's3:ObjectCreationOperation': 'true' },
      });
      expect(resourcesOf(conditional!), role).toEqual([expect.stringMatching(/\/\*$/)]);
      const destructive = about.find((s) => actionsOf(s).includes('s3:DeleteObject'));
      expect(destructive, `${role}: no destructive-action deny`).toBeDefined();
      expect(destructive!.Condition).toBeUndefined();
      for (const a of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention', 's3:PutObjectRetention', 's3:PutBucketPolicy'])
        expect(actionsOf(destructive!), role).toContain(a);
      expect(actionsOf(destructive!).sort()).toEqual([...TASK_DENIED_S3_ACTIONS].sort());
      expect(resourcesOf(destructive!)).toHaveLength(2); // the bucket and its objects
    }
  });

  it('GIVEN every Lambda THEN only the retention function (retention and GC) may delete objects, and only snapshots and v2 shared data', () => {
    const deleters = [...lambdaRoles.entries()].filter(([, role]) => (roleStatements.get(role) ?? []).some((s) => grants(s, 's3:DeleteObject')));
    expect(deleters.map(([fn]) => fn)).toEqual([expect.stringMatching(/^LifeboatRetention/)]);
    for (const s of roleStatements.get(deleters[0]![1])!.filter((x) => grants(x, 's3:DeleteObject'))) {
      for (const r of resourcesOf(s)) expect(r).toMatch(/\/\*\/(snapshots|packs|index|gc)\/\*$/);
    }
  });

  it('GIVEN the bucket THEN Object Lock is on by default, in governance mode, and versioning is on', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } },
      VersioningConfiguration: { Status: 'Enabled' },
    });
  });
});

describe('statements 2 and 3: a task cannot delete catalog items nor write any policy', () => {
  it('GIVEN each task role THEN no DeleteItem, and every item action is limited to its own partition (the policy partition read-only)', () => {
    for (const { service, role } of allTaskRoles()) {
      for (const s of (roleStatements.get(role) ?? []).filter((x) => x.Effect === 'Allow')) {
        const dynamo = actionsOf(s).filter((a) => a.startsWith('dynamodb:') || a === '*');
        if (dynamo.length === 0) continue;
        for (const banned of ['dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:DeleteTable', 'dynamodb:UpdateTable', 'dynamodb:PartiQLDelete'])
          expect(grants(s, banned), `${role} may ${banned}`).toBe(false);
        if (dynamo.every((a) => a === 'dynamodb:DescribeTable')) continue;
        const leading = s.Condition?.['ForAllValues:StringEquals']?.['dynamodb:LeadingKeys'];
        expect(leading, `${role}: ${dynamo.join(',')} without dynamodb:LeadingKeys`).toBeDefined();
        if (JSON.stringify(leading) === JSON.stringify([`CONFIG#${service}`])) {
          expect(dynamo, `${role} may write its policy`).toEqual(['dynamodb:GetItem']);
        } else {
          expect(leading, role).toEqual([`SVC#${service}`]);
        }
      }
    }
  });

  it('GIVEN the catalog table THEN it has deletion protection and point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      DeletionProtectionEnabled: true,
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });
});

describe('statement 4: no confused deputy', () => {
  it('GIVEN each task role THEN it cannot launch tasks, pass roles or touch schedules and functions', () => {
    for (const { role } of allTaskRoles()) {
      for (const s of roleStatements.get(role) ?? []) {
        for (const a of [
          'ecs:RunTask',
          'ecs:StartTask',
          'iam:PassRole',
          'lambda:InvokeFunction',
          'scheduler:CreateSchedule',
          'scheduler:UpdateSchedule',
          'events:PutRule',
          'route53:ChangeResourceRecordSets',
        ])
          expect(grants(s, a), `${role} may ${a}`).toBe(false);
      }
    }
  });

  it('GIVEN every Lambda THEN RunTask names only deployed task definitions in their cluster, and PassRole only their roles to ECS tasks', () => {
    const passable = new Set(allTaskRoles().map(({ role }) => `getatt:${role}.Arn`));
    for (const td of Object.values(template.findResources('AWS::ECS::TaskDefinition')))
      passable.add(`getatt:${(td.Properties.ExecutionRoleArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]}.Arn`);
    let runTaskGrants = 0;
    for (const [fn, role] of lambdaRoles) {
      for (const s of roleStatements.get(role) ?? []) {
        if (grants(s, 'ecs:RunTask')) {
          runTaskGrants++;
          for (const r of resourcesOf(s)) expect(runnableTaskDefinitions, `${fn}: RunTask on ${r}`).toContain(r);
          expect(Object.keys(s.Condition?.ArnEquals ?? {}), fn).toEqual(['ecs:cluster']);
        }
        if (grants(s, 'iam:PassRole')) {
          for (const r of resourcesOf(s)) expect(passable, `${fn}: PassRole on ${r}`).toContain(r);
          expect(s.Condition, fn).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
        }
      }
    }
    expect(runTaskGrants).toBeGreaterThan(0);
  });

  it("GIVEN discovery in a DNS namespace THEN Route 53 record changes are limited to that namespace's hosted zone", () => {
    let seen = 0;
    for (const [fn, role] of lambdaRoles) {
      for (const s of (roleStatements.get(role) ?? []).filter((x) => grants(x, 'route53:ChangeResourceRecordSets'))) {
        seen++;
        for (const r of resourcesOf(s)) expect(r, fn).toMatch(/hostedzone\/getatt:Namespace[0-9A-F]+\.HostedZoneId$/i);
      }
    }
    expect(seen).toBeGreaterThan(0);
  });
});

describe('statement 5: refusals are AWS decisions', () => {
  it('GIVEN the bucket policy THEN every task-role protection is an explicit Deny, not a missing Allow', () => {
    for (const { role } of allTaskRoles()) {
      const denies = bucketPolicy.filter((s) => s.Effect === 'Deny' && JSON.stringify(s.Principal).includes(`"${role}"`));
      expect(denies.length, role).toBeGreaterThanOrEqual(2);
    }
  });
});
