import { Duration, RemovalPolicy, Stack, TimeZone } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { Lifeboat, type LifeboatProps } from '../../lib/index.js';
import { HANDLERS } from '../../lib/private/handlers.js';
import { RESOURCE_STAR_ACTIONS } from '../../lib/private/lifeboat-function.js';
import { evaluateIntrinsics, fargateService, testApp, testStack } from '../support/cdk.js';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, unknown> };

const actionsOf = (s: Statement) => [s.Action].flat();

/** Every statement of the policies attached to the role whose logical id starts with `rolePrefix`. */
function statementsOf(template: Template, rolePrefix: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

function synth(props?: LifeboatProps) {
  const stack = testStack();
  const lifeboat = new Lifeboat(stack, 'Lifeboat', props);
  return { stack, lifeboat, template: () => Template.fromStack(stack) };
}

describe('Lifeboat storage', () => {
  it('GIVEN defaults WHEN synthesized THEN the catalog table is on-demand, recoverable, encrypted, with TTL, and retained', () => {
    const t = synth().template();
    t.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      }),
    });
  });

  it('GIVEN defaults WHEN synthesized THEN the bucket blocks public access, requires TLS, is versioned and expires what crashes leave', () => {
    const t = synth().template();
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        LifecycleConfiguration: {
          Rules: [
            Match.objectLike({ Id: 'noncurrent-versions', NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' }),
            Match.objectLike({ Id: 'incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: 'Enabled' }),
          ],
        },
      }),
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('GIVEN a KMS key and object lock WHEN synthesized THEN both are used', () => {
    const stack = testStack('Kms');
    const key = new kms.Key(stack, 'Key');
    new Lifeboat(stack, 'Lifeboat', { encryptionKey: key, objectLock: true, removalPolicy: RemovalPolicy.DESTROY });
    const t = Template.fromStack(stack);
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({
        ObjectLockEnabled: true,
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }), BucketKeyEnabled: true }),
          ],
        },
      }),
    });
    t.hasResourceProperties('AWS::DynamoDB::Table', { SSESpecification: Match.objectLike({ SSEEnabled: true, SSEType: 'KMS' }) });
  });

  it('GIVEN a task role WHEN granted snapshot access THEN it reaches only its own prefix and partition', () => {
    const { stack, lifeboat, template } = synth();
    const role = new iam.Role(stack, 'TaskRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    lifeboat.grantSnapshotAccess(role, 'wiki');
    const doc = statementsOf(template(), 'TaskRole');
    const s3Objects = doc.find((s) => actionsOf(s).includes('s3:PutObject'))!;
    expect(JSON.stringify(s3Objects.Resource)).toContain('/wiki/*');
    const list = doc.find((s) => actionsOf(s).includes('s3:ListBucket'))!;
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['wiki/*'] } });
    const items = doc.find((s) => actionsOf(s).includes('dynamodb:PutItem'))!;
    expect(items.Condition).toEqual({ 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['SVC#wiki'] } });
    // No statement grants item access without the partition condition.
    for (const s of doc) {
      if (actionsOf(s).some((a) => /dynamodb:(Get|Put|Update|Delete)Item|dynamodb:Query/.test(a))) expect(s.Condition).toBeDefined();
    }
  });

  it('rejects lifecycle durations that are not whole days, naming the value', () => {
    expect(() => synth({ noncurrentVersionExpiration: Duration.hours(5) })).toThrow(
      /noncurrentVersionExpiration must be a whole number of days, at least 1 \(got 5 hours\)/,
    );
  });
});

// GIVEN (shared by the control plane tests): a Lifeboat protecting one Fargate service with a
// drill, retention and targets. Synthesized once for the whole describe block.
const shared = (() => {
  let built: ReturnType<typeof build> | undefined;
  function build() {
    const stack = testStack('Shared');
    const { cluster, taskDefinition, service } = fargateService(stack, 'Wiki');
    const lifeboat = new Lifeboat(stack, 'Lifeboat');
    const wiki = lifeboat.protect(service, {
      name: 'wiki',
      dataDirectory: '/var/lib/wiki',
      snapshot: { schedule: ScheduleExpression.rate(Duration.hours(1)) },
      retention: { keepDaily: 7 },
      drill: {
        schedule: ScheduleExpression.cron({ minute: '0', hour: '3', timeZone: TimeZone.EUROPE_PARIS }),
        verifyCommand: 'wiki-check --all',
        staleAfter: Duration.hours(30),
      },
      targets: { rpo: Duration.hours(4), rto: Duration.minutes(15) },
      failover: { timeout: Duration.seconds(45) },
    });
    return { stack, cluster, taskDefinition, service, lifeboat, wiki, template: Template.fromStack(stack) };
  }
  return () => (built ??= build());
})();

describe('Lifeboat control plane', () => {
  it('GIVEN a Lifeboat WHEN synthesized THEN every function runs on Node.js 24, arm64, with explicit memory and timeout, tracing and the table and bucket in its environment', () => {
    const { template } = shared();
    const functions = template.findResources('AWS::Lambda::Function');
    expect(
      Object.keys(functions)
        .map((k) => k.replace(/[0-9A-F]{8}$/, ''))
        .sort(),
    ).toEqual([
      'LifeboatDrillScheduler',
      'LifeboatDrillWatchdog',
      'LifeboatReconciler',
      'LifeboatReport',
      'LifeboatRetention',
      'LifeboatServiceConfig',
      'LifeboatSnapshotScheduler',
      'LifeboatSnapshotWatch',
      'LifeboatTaskEvents',
      'LifeboatWatchdog',
    ]);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON' },
        Environment: {
          Variables: {
            LIFEBOAT_TABLE: { Ref: expect.stringMatching(/^LifeboatCatalog/) },
            LIFEBOAT_BUCKET: { Ref: expect.stringMatching(/^LifeboatSnapshots/) },
            LIFEBOAT_METRICS_NAMESPACE: 'Lifeboat',
          },
        },
      });
      expect(fn.Properties.MemorySize).toBeGreaterThanOrEqual(256);
      expect(fn.Properties.Timeout).toBeGreaterThan(0);
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('writes the drill reports'),
      MemorySize: 1024,
      Timeout: 120,
      Environment: { Variables: Match.objectLike({ LIFEBOAT_REPORT_MAX_AGE: '93600s' }) },
    });
  });

  it('GIVEN a Lifeboat WHEN synthesized THEN each function logs to its own log group with a retention, through its own role without managed policies', () => {
    const { template } = shared();
    const groups = template.findResources('AWS::Logs::LogGroup');
    expect(Object.values(groups).filter((g) => g.Properties.RetentionInDays === 90)).toHaveLength(HANDLERS.length);
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.LoggingConfig.LogGroup.Ref).toMatch(/Logs/);
    }
    for (const [id, role] of Object.entries(template.findResources('AWS::IAM::Role'))) {
      if (id.startsWith('Lifeboat')) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('GIVEN a Lifeboat WHEN a function fails asynchronously THEN it is retried twice and the event lands in the encrypted dead-letter queue', () => {
    const { template } = shared();
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    const configs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig'));
    expect(configs).toHaveLength(HANDLERS.length);
    for (const c of configs) {
      expect(c.Properties).toMatchObject({
        MaximumRetryAttempts: 2,
        MaximumEventAgeInSeconds: 21600,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/^LifeboatDeadLetters/), 'Arn'] } } },
      });
    }
  });

  it("GIVEN a protected service WHEN synthesized THEN an EventBridge rule sends the STOPPED events of its cluster's drill tasks to the report function, with a dead-letter queue", () => {
    const { template } = shared();
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { lastStatus: ['STOPPED'], startedBy: [{ prefix: 'drill-' }], clusterArn: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^WikiCluster'), 'Arn'] }] },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatReport'), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatDeadLetters'), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21600 },
        }),
      ],
    });
    // EventBridge may write undeliverable events to the queue, for this rule only.
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatDrillTaskStoppedRule'), 'Arn'] } } },
          }),
        ]),
      },
    });
  });

  it('GIVEN no protected service WHEN synthesized THEN no rule listens to ECS at all', () => {
    synth().template().resourceCountIs('AWS::Events::Rule', 0);
  });

  it('GIVEN two services in one cluster and one in another WHEN protected THEN the rule lists each cluster once', () => {
    const stack = testStack('Clusters');
    const a = fargateService(stack, 'A');
    const b = fargateService(stack, 'B', { cluster: a.cluster });
    const c = fargateService(stack, 'C');
    const lifeboat = new Lifeboat(stack, 'Lifeboat');
    for (const [name, s] of [
      ['a', a],
      ['b', b],
      ['c', c],
    ] as const)
      lifeboat.protect(s.service, { name, dataDirectory: '/data' });
    const rules = Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(2);
    for (const rule of rules) {
      expect(rule.Properties.EventPattern.detail.clusterArn).toEqual([
        { 'Fn::GetAtt': [expect.stringMatching(/^ACluster/), 'Arn'] },
        { 'Fn::GetAtt': [expect.stringMatching(/^CCluster/), 'Arn'] },
      ]);
    }
  });

  it('GIVEN a drill policy WHEN protected THEN a schedule in its time zone invokes the drill scheduler with the service and the scheduled time, after the policy is stored', () => {
    const { template } = shared();
    const schedules = template.findResources('AWS::Scheduler::Schedule', { Properties: { Description: 'Lifeboat: drill of wiki' } });
    const [id, schedule] = Object.entries(schedules)[0]!;
    expect(Object.keys(schedules)).toHaveLength(1);
    expect(schedule.Properties).toMatchObject({
      ScheduleExpression: 'cron(0 3 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      GroupName: expect.stringMatching(/^Shared-Lifeboat-Schedules-/),
      Target: {
        Arn: { 'Fn::GetAtt': [expect.stringMatching(/^LifeboatDrillScheduler/), 'Arn'] },
        Input: '{"service":"wiki","scheduledTime":"<aws.scheduler.scheduled-time>"}',
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [expect.stringMatching(/^LifeboatDeadLetters/), 'Arn'] } },
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
      },
    });
    expect(schedule.DependsOn).toEqual([expect.stringMatching(/^LifeboatServicewikiPolicy/)]);
    expect(id).toMatch(/^LifeboatServicewikiDrillSchedule/);
  });

  it('GIVEN a Lifeboat WHEN synthesized THEN the drill watchdog runs every 5 minutes', () => {
    shared().template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      Target: Match.objectLike({
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatDrillWatchdog'), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 300 },
      }),
    });
  });

  it('GIVEN schedules WHEN the Scheduler invokes a function THEN it assumes a role of this account allowed to invoke only that function', () => {
    const { template } = shared();
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ],
      },
    });
    const invoke = statementsOf(template, 'LifeboatDrillSchedulerSchedulerRole').filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(1);
    expect(JSON.stringify(invoke[0]!.Resource)).not.toMatch(/LifeboatReport|LifeboatDrillWatchdog/);
  });

  it('GIVEN a retention policy WHEN protected THEN its sweep is scheduled daily with the service as input', () => {
    shared().template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Description: 'Lifeboat: retention of wiki',
      ScheduleExpression: 'cron(0 4 * * ? *)',
      ScheduleExpressionTimezone: 'Etc/UTC',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatRetention'), 'Arn'] }, Input: '{"service":"wiki"}' }),
    });
  });

  it('GIVEN a snapshot schedule WHEN protected THEN the snapshot scheduler is invoked with the service and the scheduled time', () => {
    const { stack, template } = shared();
    // Shared: drill watchdog, watchdog, reconciler, snapshot watch; wiki's: snapshot, retention, drill.
    expect(Object.keys(template.findResources('AWS::Scheduler::Schedule'))).toHaveLength(7);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Description: 'Lifeboat: snapshot of wiki',
      ScheduleExpression: 'rate(1 hour)',
      Target: Match.objectLike({
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatSnapshotScheduler'), 'Arn'] },
        Input: '{"service":"wiki","scheduledTime":"<aws.scheduler.scheduled-time>"}',
      }),
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatSnapshotWatch'), 'Arn'] } }),
    });
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('no (snapshot|retention|drill) handler'))).toEqual([]);
  });

  it('GIVEN agent-mode snapshots WHEN the scheduler asks for one THEN it may run no task at all', () => {
    expect(
      statementsOf(shared().template, 'LifeboatSnapshotSchedulerRole')
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('ecs:') || a === 'iam:PassRole'),
    ).toEqual([]);
  });

  it("GIVEN dump-mode snapshots with a dump task WHEN protected THEN the scheduler may run that task only, and the dump container gets the settings and its role the service's access", () => {
    const stack = testStack('Dump');
    const { service } = fargateService(stack);
    const dumpTask = new ecs.FargateTaskDefinition(stack, 'DumpTask');
    dumpTask.addContainer('dump', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/postgres:16') });
    new Lifeboat(stack, 'Lifeboat').protect(service, {
      name: 'db',
      dataDirectory: '/dump',
      snapshot: { mode: 'dump', dumpTaskDefinition: dumpTask, schedule: ScheduleExpression.rate(Duration.hours(6)) },
    });
    const template = Template.fromStack(stack);
    const doc = statementsOf(template, 'LifeboatSnapshotSchedulerRole');
    expect(doc.find((x) => actionsOf(x).includes('ecs:RunTask'))!.Resource).toEqual({ Ref: expect.stringMatching(/^DumpTask/) });
    expect(doc.find((x) => actionsOf(x).includes('iam:PassRole'))!.Resource).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/^DumpTaskExecutionRole/), 'Arn'] },
      { 'Fn::GetAtt': [expect.stringMatching(/^DumpTaskTaskRole/), 'Arn'] },
    ]);
    const dumpRole = statementsOf(template, 'DumpTaskTaskRole');
    expect(dumpRole.find((x) => actionsOf(x).includes('dynamodb:PutItem'))!.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['SVC#db'] },
    });
    const [resource] = Object.values(template.findResources('Custom::LifeboatService'));
    expect(JSON.parse(evaluateIntrinsics(resource!.Properties.Policy) as string).snapshot).toEqual({
      schedule: 'rate(6 hours)',
      timezone: 'Etc/UTC',
      mode: 'dump',
      dumpTaskDefinition: expect.stringMatching(/^ref:DumpTask/),
      dumpContainerName: 'dump',
    });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({ Name: 'dump', Environment: Match.arrayWith([{ Name: 'LIFEBOAT_SERVICE', Value: 'db' }]) })],
    });
  });

  it('GIVEN the retention sweep WHEN it expires snapshots THEN it may list the bucket and delete only objects under <service>/snapshots/', () => {
    const { template } = shared();
    const s3 = statementsOf(template, 'LifeboatRetentionRole').filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    expect(s3).toEqual([
      expect.objectContaining({
        Action: ['s3:ListBucket', 's3:ListBucketMultipartUploads'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^LifeboatSnapshots/), 'Arn'] },
      }),
      expect.objectContaining({
        Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:GetObjectLegalHold', 's3:GetObjectRetention'],
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^LifeboatSnapshots/), 'Arn'] }, '/*/snapshots/*']] },
      }),
    ]);
  });

  it('GIVEN a protected service WHEN synthesized THEN its policy is stored by the ServiceConfig custom resource, with its ECS placement and schedules', () => {
    const { template } = shared();
    const resources = template.findResources('Custom::LifeboatService');
    const [resource] = Object.values(resources);
    expect(resource!.Properties.ServiceToken).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LifeboatServiceConfig/), 'Arn'] });
    const policy = JSON.parse(evaluateIntrinsics(resource!.Properties.Policy) as string);
    expect(policy).toEqual({
      service: 'wiki',
      dataDir: '/var/lib/wiki',
      ecs: {
        cluster: expect.stringMatching(/^getatt:WikiCluster.*\.Arn$/),
        serviceName: expect.stringMatching(/^getatt:WikiService.*\.Name$/),
        taskDefinition: expect.stringMatching(/^ref:WikiTask/),
        containerName: 'app',
        launchType: 'FARGATE',
        subnets: [expect.stringMatching(/^ref:WikiVpc/), expect.stringMatching(/^ref:WikiVpc/)],
        securityGroups: [expect.stringMatching(/^getatt:WikiSecurityGroup.*\.GroupId$/)],
        assignPublicIp: false,
      },
      snapshot: { schedule: 'rate(1 hour)', timezone: 'Etc/UTC' },
      retention: { schedule: 'cron(0 4 * * ? *)', timezone: 'Etc/UTC', daily: 7 },
      failover: { timeoutSeconds: 45 },
      drill: { schedule: 'cron(0 3 * * ? *)', timezone: 'Europe/Paris', verifyCommand: 'wiki-check --all' },
      targets: { rpoSeconds: 14400, rtoSeconds: 900 },
    });
  });

  it("GIVEN a protected service WHEN synthesized THEN its container gets the agent's settings", () => {
    const { template } = shared();
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Name: 'app',
          Environment: Match.arrayWith([
            { Name: 'LIFEBOAT_SERVICE', Value: 'wiki' },
            { Name: 'LIFEBOAT_DIR', Value: '/var/lib/wiki' },
            { Name: 'LIFEBOAT_TABLE', Value: { Ref: Match.stringLikeRegexp('^LifeboatCatalog') } },
            { Name: 'LIFEBOAT_BUCKET', Value: { Ref: Match.stringLikeRegexp('^LifeboatSnapshots') } },
            { Name: 'AWS_REGION', Value: { Ref: 'AWS::Region' } },
          ]),
        }),
      ],
    });
  });

  it("GIVEN a protected service WHEN synthesized THEN its task role reaches only the service's own prefix and partition", () => {
    const { template } = shared();
    const doc = statementsOf(template, 'WikiTaskTaskRole');
    const objects = doc.find((s) => actionsOf(s).includes('s3:PutObject'))!;
    expect(objects.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^LifeboatSnapshots/), 'Arn'] }, '/wiki/*']] });
    expect(doc.find((s) => actionsOf(s).includes('dynamodb:PutItem'))!.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['SVC#wiki'] },
    });
    expect(doc.flatMap(actionsOf).filter((a) => a.endsWith('*'))).toEqual([]);
  });

  it('GIVEN a protected service WHEN the drill scheduler launches a drill THEN it may run only that task definition in that cluster and pass only its roles to ECS', () => {
    const { template } = shared();
    const doc = statementsOf(template, 'LifeboatDrillSchedulerRole');
    const runTask = doc.find((s) => actionsOf(s).includes('ecs:RunTask'))!;
    expect(runTask.Resource).toEqual({ Ref: expect.stringMatching(/^WikiTask/) });
    expect(runTask.Condition).toEqual({ ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [expect.stringMatching(/^WikiCluster/), 'Arn'] } } });
    const passRole = doc.find((s) => actionsOf(s).includes('iam:PassRole'))!;
    expect(passRole.Resource).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/^WikiTaskExecutionRole/), 'Arn'] },
      { 'Fn::GetAtt': [expect.stringMatching(/^WikiTaskTaskRole/), 'Arn'] },
    ]);
    expect(passRole.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  });

  it('GIVEN a protected service WHEN the watchdog times out a drill THEN it may stop tasks of that cluster only', () => {
    const { template } = shared();
    const stop = statementsOf(template, 'LifeboatDrillWatchdogRole').find((s) => actionsOf(s).includes('ecs:StopTask'))!;
    expect(JSON.stringify(stop.Resource)).toMatch(/:task\/".*WikiCluster.*"\/\*"/);
    expect(stop.Condition).toEqual({ ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [expect.stringMatching(/^WikiCluster/), 'Arn'] } } });
  });

  it('GIVEN a Lifeboat WHEN reports are written THEN only the report writers may put objects, under _reports/drills/ only', () => {
    const { template } = shared();
    for (const role of ['LifeboatReportRole', 'LifeboatDrillWatchdogRole']) {
      const put = statementsOf(template, role).filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
      expect(put).toEqual([
        expect.objectContaining({
          Action: 's3:PutObject',
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^LifeboatSnapshots/), 'Arn'] }, '/_reports/drills/*']] },
        }),
      ]);
    }
    for (const role of ['LifeboatDrillSchedulerRole', 'LifeboatServiceConfigRole']) {
      expect(
        statementsOf(template, role)
          .flatMap(actionsOf)
          .filter((a) => a.startsWith('s3:')),
      ).toEqual([]);
    }
  });

  it('GIVEN a Lifeboat WHEN the ServiceConfig function stores policies THEN it may only put, get and delete policy and registry items', () => {
    const { template } = shared();
    const items = statementsOf(template, 'LifeboatServiceConfigRole').filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(items).toEqual([
      expect.objectContaining({
        Action: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SVC#*', 'REGISTRY'] } },
      }),
    ]);
  });

  it('GIVEN a Lifeboat WHEN synthesized THEN no statement of the control plane grants a service-wide action', () => {
    const { template } = shared();
    const all = statementsOf(template, 'Lifeboat');
    expect(all.flatMap(actionsOf).filter((a) => a.endsWith(':*') || a === '*')).toEqual([]);
    // The only Resource "*" statements are actions without resource-level permissions.
    const star = all.filter((x) => x.Resource === '*').flatMap(actionsOf);
    expect(star.length).toBeGreaterThan(0);
    expect(star.filter((a) => !RESOURCE_STAR_ACTIONS.includes(a))).toEqual([]);
    for (const x of all.filter((y) => y.Resource === '*' && actionsOf(y).includes('ecs:ListTasks')))
      expect(x.Condition).toHaveProperty('ArnEquals.ecs:cluster');
  });

  it('GIVEN a drill policy and an RPO target WHEN protected THEN it gets failed-drill, stale-drill and RPO alarms on its own metrics', () => {
    const { template } = shared();
    const dims = Match.arrayEquals([
      { Name: 'ProtectedService', Value: 'wiki' },
      { Name: 'service', Value: 'lifeboat' },
    ]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Lifeboat',
      MetricName: 'DrillAlarm',
      Dimensions: dims,
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'ignore',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Lifeboat',
      MetricName: 'DrillsPassed',
      Dimensions: dims,
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 30,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Lifeboat',
      MetricName: 'RpoBreached',
      Dimensions: dims,
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(shared().wiki.alarms).toHaveLength(4);
  });

  it('GIVEN a Lifeboat WHEN synthesized THEN every function and the dead-letter queue have an alarm, and the dashboard shows them', () => {
    const { template, lifeboat } = shared();
    for (const fn of HANDLERS.map((h) => h.id)) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp(`^Lifeboat${fn}`) } }],
        Threshold: 1,
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS', Threshold: 1 });
    expect(lifeboat.alarms).toHaveLength(HANDLERS.length + 1 + 4);
    const body = JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'));
    for (const text of [
      'Lifeboat control plane',
      'Handler errors',
      'Dead letters',
      'wiki: recovery time and point',
      'RtoSeconds',
      'NewestSnapshotAgeSeconds',
      'RTO target',
      'wiki: failover',
    ])
      expect(body).toContain(text);
  });

  it('GIVEN a protected service WHEN synthesized THEN every task state change of its cluster goes to the task-events function, with a dead-letter queue', () => {
    shared().template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { clusterArn: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^WikiCluster'), 'Arn'] }] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatTaskEvents'), 'Arn'] }, DeadLetterConfig: Match.anyValue() })],
    });
  });

  it('GIVEN a Lifeboat WHEN synthesized THEN the watchdog runs every minute and the reconciler every 5 minutes', () => {
    const { template } = shared();
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatWatchdog'), 'Arn'] } }),
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatReconciler'), 'Arn'] } }),
    });
  });

  it('GIVEN a Lifeboat WHEN a failover wait is scheduled THEN it goes through an encrypted queue the watchdog consumes, failures redriven to the dead-letter queue', () => {
    const { template } = shared();
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 720,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatDeadLetters'), 'Arn'] }, maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LifeboatFailoverQueue'), 'Arn'] },
      FunctionName: { Ref: Match.stringLikeRegexp('^LifeboatWatchdog') },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    for (const fn of ['TaskEvents', 'Watchdog', 'Reconciler']) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Role: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^Lifeboat${fn}Role`), 'Arn'] },
        Environment: { Variables: Match.objectLike({ LIFEBOAT_FAILOVER_QUEUE_URL: { Ref: Match.stringLikeRegexp('^LifeboatFailoverQueue') } }) },
      });
      const send = statementsOf(template, `Lifeboat${fn}Role`).filter((x) => actionsOf(x).includes('sqs:SendMessage'));
      expect(send.flatMap((x) => [x.Resource].flat())).toContainEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LifeboatFailoverQueue/), 'Arn'] });
    }
  });

  it("GIVEN a protected service WHEN its agent elects itself THEN it may send the failover check, and knows the queue's URL", () => {
    const { template } = shared();
    const send = statementsOf(template, 'WikiTaskTaskRole').find((x) => actionsOf(x).includes('sqs:SendMessage'))!;
    expect(send.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LifeboatFailoverQueue/), 'Arn'] });
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([{ Name: 'LIFEBOAT_FAILOVER_QUEUE_URL', Value: { Ref: Match.stringLikeRegexp('^LifeboatFailoverQueue') } }]),
        }),
      ],
    });
  });

  it("GIVEN a protected service WHEN the reconciler catches up with ECS THEN it may list and describe that cluster's tasks only", () => {
    const doc = statementsOf(shared().template, 'LifeboatReconcilerRole');
    const inCluster = { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': [expect.stringMatching(/^WikiCluster/), 'Arn'] } } };
    expect(doc.find((x) => actionsOf(x).includes('ecs:ListTasks'))).toMatchObject({ Resource: '*', Condition: inCluster });
    const describe = doc.find((x) => actionsOf(x).includes('ecs:DescribeTasks'))!;
    expect(JSON.stringify(describe.Resource)).toMatch(/:task\/".*WikiCluster.*"\/\*"/);
    expect(describe.Condition).toEqual(inCluster);
  });

  it('GIVEN a protected service WHEN its primary cannot be replaced for 3 minutes THEN the no-primary alarm fires', () => {
    shared().template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Lifeboat',
      MetricName: 'NoCandidate',
      Dimensions: Match.arrayEquals([
        { Name: 'ProtectedService', Value: 'wiki' },
        { Name: 'service', Value: 'lifeboat' },
      ]),
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
  });

  it('GIVEN discovery in a DNS namespace WHEN protected THEN the policy names it and the failover handlers may re-point only that service', () => {
    const stack = testStack('Discovery');
    const { service } = fargateService(stack);
    const namespace = new cloudmap.PrivateDnsNamespace(stack, 'Namespace', {
      name: 'internal',
      vpc: new ec2.Vpc(stack, 'NsVpc', { maxAzs: 1, natGateways: 0, restrictDefaultSecurityGroup: false }),
    });
    const primary = namespace.createService('Primary', { name: 'wiki-primary' });
    new Lifeboat(stack, 'Lifeboat').protect(service, { name: 'wiki', dataDirectory: '/data', discovery: { service: primary, port: 5432 } });
    const template = Template.fromStack(stack);
    const [resource] = Object.values(template.findResources('Custom::LifeboatService'));
    expect(JSON.parse(evaluateIntrinsics(resource!.Properties.Policy) as string).discovery).toEqual({
      namespaceId: expect.stringMatching(/^getatt:Namespace.*\.Id$/),
      serviceId: expect.stringMatching(/^getatt:NamespacePrimary.*\.Id$/),
      port: 5432,
    });
    for (const fn of ['TaskEvents', 'Watchdog', 'Reconciler']) {
      const doc = statementsOf(template, `Lifeboat${fn}Role`);
      expect(doc.find((x) => actionsOf(x).includes('servicediscovery:RegisterInstance'))!.Resource).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^NamespacePrimary/), 'Arn'],
      });
      expect(
        doc
          .flatMap(actionsOf)
          .filter((a) => a.startsWith('route53:'))
          .sort(),
      ).toEqual(['route53:ChangeResourceRecordSets', 'route53:GetHostedZone', 'route53:ListHostedZonesByName']);
    }
    expect(
      statementsOf(template, 'LifeboatReportRole')
        .flatMap(actionsOf)
        .filter((a) => a.startsWith('servicediscovery:')),
    ).toEqual([]);
  });

  it('GIVEN discovery in an API-only namespace WHEN protected THEN no Route 53 permission is granted', () => {
    const stack = testStack('HttpDiscovery');
    const namespace = new cloudmap.HttpNamespace(stack, 'Namespace', { name: 'internal' });
    new Lifeboat(stack, 'Lifeboat').protect(fargateService(stack).service, {
      name: 'wiki',
      dataDirectory: '/data',
      discovery: { service: namespace.createService('Primary', {}) },
    });
    const actions = statementsOf(Template.fromStack(stack), 'Lifeboat').flatMap(actionsOf);
    expect(actions).toContain('servicediscovery:RegisterInstance');
    expect(actions.filter((a) => a.startsWith('route53:'))).toEqual([]);
  });

  it('GIVEN an alarm action WHEN alarms are created THEN every one of them notifies it', () => {
    const stack = testStack('Actions');
    const topic = new sns.Topic(stack, 'Topic');
    const lifeboat = new Lifeboat(stack, 'Lifeboat', { alarmAction: new cwActions.SnsAction(topic), dashboard: false });
    lifeboat.protect(fargateService(stack).service, { name: 'wiki', dataDirectory: '/data', drill: { verifyCommand: 'true' } });
    const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(HANDLERS.length + 1 + 3);
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Topic/) }]);
    Template.fromStack(stack).resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  it('GIVEN an EC2 service in bridge mode WHEN protected THEN its drills launch on EC2 without a network configuration', () => {
    const stack = testStack('Ec2');
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, restrictDefaultSecurityGroup: false }) });
    cluster.addCapacity('Capacity', {
      instanceType: new ec2.InstanceType('t4g.small'),
      machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.ARM),
    });
    const taskDefinition = new ecs.Ec2TaskDefinition(stack, 'Task', { networkMode: ecs.NetworkMode.BRIDGE });
    taskDefinition.addContainer('db', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/postgres:16'), memoryLimitMiB: 512 });
    const service = new ecs.Ec2Service(stack, 'Db', { cluster, taskDefinition });
    new Lifeboat(stack, 'Lifeboat').protect(service, { name: 'db', dataDirectory: '/var/lib/postgresql/data' });
    const [resource] = Object.values(Template.fromStack(stack).findResources('Custom::LifeboatService'));
    const policy = JSON.parse(evaluateIntrinsics(resource!.Properties.Policy) as string);
    expect(policy.ecs).toEqual({
      cluster: expect.stringMatching(/^getatt:Cluster/),
      serviceName: expect.stringMatching(/^getatt:DbService/),
      taskDefinition: expect.stringMatching(/^ref:Task/),
      containerName: 'db',
      launchType: 'EC2',
    });
  });

  it('GIVEN a task definition with several containers WHEN the agent container is named THEN that one gets the settings', () => {
    const stack = testStack('Containers');
    const { service } = fargateService(stack, 'Wiki', { containers: ['proxy', 'wiki'] });
    const protectedService = new Lifeboat(stack, 'Lifeboat').protect(service, { name: 'wiki', dataDirectory: '/data', containerName: 'wiki' });
    expect(protectedService.container.containerName).toBe('wiki');
    const defs = Template.fromStack(stack).findResources('AWS::ECS::TaskDefinition');
    const containers = Object.values(defs)[0]!.Properties.ContainerDefinitions as { Name: string; Environment?: unknown[] }[];
    expect(containers.find((c) => c.Name === 'proxy')!.Environment).toBeUndefined();
    expect(containers.find((c) => c.Name === 'wiki')!.Environment).toContainEqual({ Name: 'LIFEBOAT_SERVICE', Value: 'wiki' });
  });

  it('GIVEN a reader WHEN granted report access THEN it may read drill records and the stored reports, and write nothing', () => {
    const { stack, lifeboat, template } = synth();
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    lifeboat.grantReadReports(role);
    const doc = statementsOf(template(), 'Reader');
    expect(doc.flatMap(actionsOf).sort()).toEqual(['dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:Query', 's3:GetObject']);
    expect(JSON.stringify(doc.find((s) => actionsOf(s).includes('s3:GetObject'))!.Resource)).toContain('/_reports/drills/*');
  });

  it('GIVEN a protected service WHEN its metrics are asked for THEN they are in the namespace with its service dimension', () => {
    const stack = testStack('Metrics');
    const lifeboat = new Lifeboat(stack, 'Lifeboat', { metricsNamespace: 'Acme/Lifeboat' });
    const wiki = lifeboat.protect(fargateService(stack).service, { name: 'wiki', dataDirectory: '/data' });
    const m = wiki.metricRpo();
    expect(m).toBeInstanceOf(cloudwatch.Metric);
    expect({ namespace: m.namespace, name: m.metricName, dims: m.dimensions, stat: m.statistic, period: m.period.toSeconds() }).toEqual({
      namespace: 'Acme/Lifeboat',
      name: 'RpoSeconds',
      dims: { service: 'lifeboat', ProtectedService: 'wiki' },
      stat: 'Maximum',
      period: 3600,
    });
    expect(wiki.metricRpoBreached().metricName).toBe('RpoBreached');
    expect(wiki.metricSnapshotAge().period.toSeconds()).toBe(300);
    expect(wiki.metricDrillsPassed().statistic).toBe('Sum');
    expect(lifeboat.metricDrillAlarm('wiki', { period: Duration.minutes(5) }).period.toSeconds()).toBe(300);
    expect(lifeboat.metricDeadLetters().metricName).toBe('ApproximateNumberOfMessagesVisible');
  });

  it('GIVEN a service protected twice under one name WHEN protect() is called again THEN it refuses', () => {
    const stack = testStack('Twice');
    const lifeboat = new Lifeboat(stack, 'Lifeboat');
    lifeboat.protect(fargateService(stack, 'A').service, { name: 'wiki', dataDirectory: '/data' });
    expect(() => lifeboat.protect(fargateService(stack, 'B').service, { name: 'wiki', dataDirectory: '/data' })).toThrow(
      /a service named 'wiki' is already protected/,
    );
  });

  it('GIVEN an unknown container name WHEN protected THEN the error lists the containers there are', () => {
    const stack = testStack('NoContainer');
    expect(() => new Lifeboat(stack, 'Lifeboat').protect(fargateService(stack).service, { name: 'wiki', dataDirectory: '/data', containerName: 'db' })).toThrow(
      /containerName "db" is not a container of .*; its containers are \["app"\]/,
    );
  });

  it('GIVEN a service in another region WHEN protected THEN it refuses: ECS events and schedules are regional', () => {
    const app = testApp();
    const here = new Stack(app, 'Here', { env: { account: '111111111111', region: 'eu-west-1' } });
    const there = new Stack(app, 'There', { env: { account: '111111111111', region: 'us-east-1' } });
    const lifeboat = new Lifeboat(here, 'Lifeboat');
    expect(() => lifeboat.protect(fargateService(there).service, { name: 'wiki', dataDirectory: '/data' })).toThrow(
      /protect\('wiki'\): the service is in region us-east-1 but Lifeboat is in eu-west-1/,
    );
  });

  it('GIVEN code after protect() that replaces an agent setting WHEN synthesized THEN validation names the variable and the fix', () => {
    const stack = testStack('Override');
    const { service } = fargateService(stack);
    const wiki = new Lifeboat(stack, 'Lifeboat').protect(service, { name: 'wiki', dataDirectory: '/data' });
    wiki.container.addEnvironment('LIFEBOAT_SERVICE', 'other');
    expect(() => Template.fromStack(stack)).toThrow(
      /protect\('wiki'\): the container's LIFEBOAT_SERVICE is "other", not Lifeboat's "wiki"; remove the later addEnvironment\('LIFEBOAT_SERVICE', \.\.\.\)/,
    );
  });
});
