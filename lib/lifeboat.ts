import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../lambdas/contract/environment.js';
import { REPORTS_PREFIX, serviceConfigPk, servicePk, TABLE_KEY, TTL_ATTRIBUTE } from '../lambdas/contract/keys.js';
import { METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME, SERVICE_DIMENSION } from '../lambdas/contract/metrics.js';
import { type EventPattern, ecsTaskEventPattern, FAILOVER_QUEUE, rateExpression, type ServiceScheduleKind } from '../lambdas/contract/triggers.js';
import { acknowledge, acknowledgeWildcardResource } from './private/acknowledge.js';
import { HANDLERS, type HandlerDefinition, type ServiceAccess } from './private/handlers.js';
import { createLifeboatFunction } from './private/lifeboat-function.js';
import { ProtectedService } from './protected-service.js';
import type { PrimaryDiscovery, ProtectionPolicy } from './protection-policy.js';

/**
 * Properties of the Lifeboat construct.
 */
export interface LifeboatProps {
  /**
   * KMS key for the snapshot bucket and the catalog table.
   *
   * @default - S3-managed encryption for the bucket and an AWS owned key for the table
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * What happens to the catalog table and the snapshot bucket when the stack is deleted.
   * Snapshots are the point of Lifeboat: keep them unless told otherwise.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Days after which a noncurrent (overwritten or deleted) object version is removed.
   *
   * @default 30
   */
  readonly noncurrentVersionExpiration?: Duration;

  /**
   * Days after which an unfinished multipart upload (a snapshot writer that crashed) is
   * aborted by S3.
   *
   * @default 7
   */
  readonly abortIncompleteMultipartUploadAfter?: Duration;

  /**
   * S3 Object Lock on the bucket: every snapshot object is locked against deletion and
   * overwrite, by anyone, for `objectLockRetention` after it is written (docs/SECURITY.md).
   * Object Lock can only be switched on for a bucket S3 creates with it: a stack whose bucket
   * was created without it must pass `false` to keep that bucket (else CloudFormation replaces
   * it, and the retained old bucket is no longer used).
   *
   * @default true
   */
  readonly objectLock?: boolean;

  /**
   * The Object Lock mode of the bucket's default retention. GOVERNANCE: a principal with
   * `s3:BypassGovernanceRetention` (an administrator; never a task role) can still delete a
   * locked object. COMPLIANCE: nobody can, not even the account root, until the retention ends.
   *
   * @default s3.ObjectLockMode.GOVERNANCE
   */
  readonly objectLockMode?: s3.ObjectLockMode;

  /**
   * How long each new object stays locked. Keep it no longer than the shortest time any
   * protected service's retention keeps a snapshot: retention and GC skip a locked object
   * (and report it) until its lock ends.
   *
   * @default Duration.days(1)
   */
  readonly objectLockRetention?: Duration;

  /**
   * DynamoDB deletion protection on the catalog table: deleting the table (by a stack update
   * or by hand) fails until it is switched off.
   *
   * @default true
   */
  readonly deletionProtection?: boolean;

  /**
   * How long the control plane's Lambda logs are kept.
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Active X-Ray tracing of the control plane's functions.
   *
   * @default lambda.Tracing.ACTIVE
   */
  readonly tracing?: lambda.Tracing;

  /**
   * CloudWatch namespace of the metrics the handlers emit (EMF) and the alarms watch.
   *
   * @default 'Lifeboat'
   */
  readonly metricsNamespace?: string;

  /**
   * A drill older than this makes the stored drill reports say "stale" (whole seconds).
   *
   * @default Duration.hours(26)
   */
  readonly reportMaxAge?: Duration;

  /**
   * Action added to every alarm Lifeboat creates (for example an SNS topic's).
   *
   * @default - no action: the alarms are in `alarms`, add your own
   */
  readonly alarmAction?: cloudwatch.IAlarmAction;

  /**
   * Create a CloudWatch dashboard of the control plane and the protected services.
   *
   * @default true
   */
  readonly dashboard?: boolean;

  /**
   * Name of the dashboard.
   *
   * @default - a name generated by CloudFormation
   */
  readonly dashboardName?: string;
}

/** The IAM actions a handler needs on the items of the table. */
const TABLE_ITEM_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
];

/**
 * What a snapshot writer (a task role) may never do to the bucket, denied by the bucket
 * policy: delete or unlock an object, or change the bucket's own protections.
 */
export const TASK_DENIED_S3_ACTIONS = [
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:DeleteObjectTagging',
  's3:DeleteObjectVersionTagging',
  's3:PutObjectRetention',
  's3:PutObjectLegalHold',
  's3:BypassGovernanceRetention',
  's3:PutObjectAcl',
  's3:PutObjectVersionAcl',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:PutBucketVersioning',
  's3:PutBucketObjectLockConfiguration',
  's3:PutLifecycleConfiguration',
  's3:PutReplicationConfiguration',
  's3:DeleteBucket',
] as const;

/**
 * Lifeboat: makes the stateful services of an ECS cluster disposable.
 *
 * Creates the catalog table and the snapshot bucket (secure by default and retained), the
 * control plane (Lambda functions bundled from `lambdas/handlers/`, an EventBridge rule on
 * the protected clusters' task state changes, EventBridge Scheduler schedules, one
 * dead-letter queue for everything that could not be delivered or processed), alarms and a
 * dashboard. `protect(service, policy)` enrolls an ECS service.
 */
export class Lifeboat extends Construct {
  /** The catalog and coordination table. */
  readonly table: dynamodb.Table;
  /** The snapshot bucket; drill reports are under `_reports/drills/`. */
  readonly bucket: s3.Bucket;
  /**
   * Events, schedules and asynchronous invocations that failed after their retries: a
   * message here is work the control plane did not do.
   */
  readonly deadLetterQueue: sqs.Queue;
  /**
   * The failover queue: delayed "check this service" messages that end a failover wait
   * on time (SQS delays are accurate to the second). The watchdog consumes it; the
   * control plane and the agents send to it. Failed messages go to `deadLetterQueue`.
   */
  readonly failoverQueue?: sqs.Queue;
  /** The group of every schedule Lifeboat creates. */
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The control plane's functions, by handler id (`DrillScheduler`, `Report`, ...). */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** The CloudWatch namespace of Lifeboat's metrics. */
  readonly metricsNamespace: string;
  /** The dashboard, unless `dashboard: false`. */
  readonly dashboard?: cloudwatch.Dashboard;

  private readonly props: LifeboatProps;
  private readonly _alarms: cloudwatch.Alarm[] = [];
  private readonly services = new Map<string, ProtectedService>();
  private readonly clusterRules = new Map<string, events.Rule>();
  private readonly watchedClusters = new Set<string>();
  private readonly schedulerRoles = new Map<string, iam.Role>();
  private readonly discoveryGrants = new Set<string>();
  private readonly route53Grants = new Set<string>();
  private readonly appendOnlyWriters = new Set<string>();

  constructor(scope: Construct, id: string, props: LifeboatProps = {}) {
    super(scope, id);
    this.props = props;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const noncurrent = props.noncurrentVersionExpiration ?? Duration.days(30);
    const abortAfter = props.abortIncompleteMultipartUploadAfter ?? Duration.days(7);
    for (const [name, d] of [
      ['noncurrentVersionExpiration', noncurrent],
      ['abortIncompleteMultipartUploadAfter', abortAfter],
    ] as const) {
      if (!Token.isUnresolved(d.toDays({ integral: false })) && (d.toDays({ integral: false }) < 1 || !Number.isInteger(d.toDays({ integral: false })))) {
        throw new Error(`${name} must be a whole number of days, at least 1 (got ${d.toHumanString()}); use Duration.days(n)`);
      }
    }
    const reportMaxAge = props.reportMaxAge ?? Duration.hours(26);
    if (!reportMaxAge.isUnresolved() && (!Number.isInteger(reportMaxAge.toSeconds({ integral: false })) || reportMaxAge.toSeconds() < 60)) {
      throw new Error(`reportMaxAge must be a whole number of seconds, at least 1 minute (got ${reportMaxAge.toHumanString()}); use e.g. Duration.hours(26)`);
    }
    this.metricsNamespace = props.metricsNamespace ?? METRICS_NAMESPACE;
    if (!Token.isUnresolved(this.metricsNamespace) && !/^[A-Za-z0-9.\-_/#:]{1,255}$/.test(this.metricsNamespace)) {
      throw new Error(
        `metricsNamespace ${JSON.stringify(this.metricsNamespace)} is not a CloudWatch namespace; use letters, digits and . - _ / # : (e.g. 'Lifeboat')`,
      );
    }

    const objectLock = props.objectLock ?? true;
    // Table (not TableV2): a customer managed key on TableV2 needs a region-bound stack.
    this.table = new dynamodb.Table(this, 'Catalog', {
      partitionKey: { name: TABLE_KEY.partition, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_KEY.sort, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      encryption: props.encryptionKey ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.AWS_MANAGED,
      encryptionKey: props.encryptionKey,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy,
    });

    this.bucket = new s3.Bucket(this, 'Snapshots', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: props.encryptionKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: props.encryptionKey ? true : undefined,
      versioned: true,
      objectLockEnabled: objectLock,
      objectLockDefaultRetention: objectLock ? this.objectLockRetention(props) : undefined,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { id: 'noncurrent-versions', noncurrentVersionExpiration: noncurrent },
        { id: 'incomplete-uploads', abortIncompleteMultipartUploadAfter: abortAfter },
      ],
      removalPolicy,
      autoDeleteObjects: false,
    });
    acknowledge(
      this.bucket,
      'AwsSolutions-S1',
      'server access logs would need a second bucket per deployment; every read and write of snapshots goes through IAM roles Lifeboat scopes per service, and CloudTrail data events can be enabled account-wide',
    );

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      'this queue is the dead-letter queue of the rules, schedules and asynchronous invocations; a dead-letter queue of its own would only move the same messages',
    );
    acknowledge(this.deadLetterQueue, 'Serverless-SQSRedrivePolicy', 'this queue is itself the dead-letter queue of the control plane (see AwsSolutions-SQS3)');

    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'Schedules', {});

    const queueConsumer = HANDLERS.find((d) => d.triggers.some((t) => t.kind === 'failover-queue'));
    if (queueConsumer) {
      this.failoverQueue = new sqs.Queue(this, 'FailoverQueue', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        // Six times the consumer's timeout, as Lambda recommends for SQS event sources.
        visibilityTimeout: Duration.seconds(queueConsumer.timeout.toSeconds() * FAILOVER_QUEUE.visibilityTimeoutPerConsumerTimeout),
        retentionPeriod: Duration.seconds(FAILOVER_QUEUE.retentionSeconds),
        deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: FAILOVER_QUEUE.maxReceiveCount },
      });
    }

    const functions: Record<string, lambda.Function> = {};
    for (const def of HANDLERS) functions[def.id] = this.createFunction(def, reportMaxAge);
    this.functions = functions;

    for (const def of HANDLERS) {
      const source = def.triggers.find((t) => t.kind === 'failover-queue');
      if (!source) continue;
      const fn = functions[def.id]!;
      const mapping = fn.addEventSourceMapping('FailoverQueueSource', {
        eventSourceArn: this.failoverQueue!.queueArn,
        batchSize: source.batchSize,
        reportBatchItemFailures: source.reportBatchItemFailures,
      });
      this.failoverQueue!.grantConsumeMessages(fn);
      acknowledge(
        mapping,
        'Serverless-LambdaEventSourceMappingDestination',
        'an SQS source keeps failed messages through its redrive policy (to the dead-letter queue after 5 receives); on-failure destinations exist for stream sources only',
      );
    }

    for (const def of HANDLERS) {
      for (const trigger of def.triggers) {
        if (trigger.kind !== 'schedule') continue;
        new scheduler.Schedule(this, trigger.id, {
          schedule: scheduler.ScheduleExpression.expression(rateExpression(trigger.everySeconds)),
          description: trigger.description,
          scheduleGroup: this.scheduleGroup,
          target: this._scheduleTarget(def, {}, Duration.seconds(trigger.everySeconds)),
        });
      }
    }

    if (props.dashboard ?? true) {
      this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
        dashboardName: props.dashboardName,
        defaultInterval: Duration.days(7),
      });
    }
    this.monitorControlPlane();
  }

  /**
   * Enrolls an ECS service (Fargate or EC2): stores its policy where the handlers read it,
   * creates its schedules and alarms, adds the agent's settings to its container, and lets
   * its task role reach only its own snapshots and catalog items.
   */
  protect(service: ecs.BaseService, policy: ProtectionPolicy): ProtectedService {
    if (!Token.isUnresolved(policy.name) && this.services.has(policy.name)) {
      throw new Error(
        `protect('${policy.name}'): a service named '${policy.name}' is already protected by ${this.node.path}; each protected service needs its own name`,
      );
    }
    this.assertSameEnvironment(policy.name, service);
    const protectedService = new ProtectedService(this, `Service-${policy.name}`, { lifeboat: this, service, policy });
    this.services.set(policy.name, protectedService);
    this.watchCluster(service.cluster);
    this.grantServiceAccess(service, policy);
    return protectedService;
  }

  /** Every service protected so far. */
  get protectedServices(): readonly ProtectedService[] {
    return [...this.services.values()];
  }

  /** Every alarm Lifeboat created: control plane and protected services. */
  get alarms(): readonly cloudwatch.Alarm[] {
    return [...this._alarms];
  }

  private objectLockRetention(props: LifeboatProps): s3.ObjectLockRetention {
    const d = props.objectLockRetention ?? Duration.days(1);
    if (!d.isUnresolved() && (!Number.isInteger(d.toDays({ integral: false })) || d.toDays() < 1)) {
      throw new Error(`objectLockRetention must be a whole number of days, at least 1 (got ${d.toHumanString()}); use Duration.days(n)`);
    }
    return props.objectLockMode === s3.ObjectLockMode.COMPLIANCE ? s3.ObjectLockRetention.compliance(d) : s3.ObjectLockRetention.governance(d);
  }

  /**
   * Lets a protected service's tasks take and restore its own snapshots, and nothing else:
   * objects under `<service>/` in the bucket and catalog items whose partition key is the
   * service's (`dynamodb:LeadingKeys`). `protect()` grants this to the task role.
   *
   * Append only (docs/SECURITY.md): no s3:DeleteObject and no dynamodb:DeleteItem, the
   * service's policy (`CONFIG#<service>`) readable but not writable, and the bucket policy
   * denies the grantee any write without `If-None-Match: *` (an overwrite) and every
   * destructive action, so a later grant elsewhere cannot undo it.
   */
  grantSnapshotAccess(grantee: iam.IGrantable, service: string): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      // AbortMultipartUpload drops an unfinished upload's parts, never a stored object.
      actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
      resourceArns: [this.bucket.arnForObjects(`${service}/*`)],
    });
    this.denyDestructiveWrites(grantee);
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${service}/*`] } },
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'],
      resourceArns: [this.table.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [servicePk(service)] } },
    });
    // The policy: read, never written, by the service's own tasks.
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem'],
      resourceArns: [this.table.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [serviceConfigPk(service)] } },
    });
    // `lifeboat` checks the table exists before it writes; DescribeTable reveals no items.
    iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:DescribeTable'], resourceArns: [this.table.tableArn] });
    this.bucket.encryptionKey?.grantEncryptDecrypt(grantee);
    this.table.encryptionKey?.grantEncryptDecrypt(grantee);
    return grant;
  }

  /**
   * Bucket-policy denies for a snapshot writer: they hold whatever its identity policies say
   * (an explicit deny wins over any allow), so an attacker with the task's credentials
   * cannot delete, overwrite, unlock or reconfigure anything in the bucket.
   */
  private denyDestructiveWrites(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    const key = principal instanceof iam.Role || principal instanceof iam.LazyRole ? principal.node.path : undefined;
    if (key !== undefined && this.appendOnlyWriters.has(key)) return;
    if (key !== undefined) this.appendOnlyWriters.add(key);
    // PutObject and CompleteMultipartUpload (s3:ObjectCreationOperation true) must carry
    // If-None-Match; the multipart steps cannot carry it and are exempt (S3 user guide,
    // "Enforce conditional writes on Amazon S3 buckets").
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        principals: [principal],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
      }),
    );
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        principals: [principal],
        actions: [...TASK_DENIED_S3_ACTIONS],
        resources: [this.bucket.bucketArn, this.bucket.arnForObjects('*')],
      }),
    );
  }

  /**
   * Lets a reader (a CI role running `lifeboat report`, a person) read the drill records of
   * every service and the stored reports, and nothing else: no snapshot object, no write.
   */
  grantReadReports(grantee: iam.IGrantable): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:DescribeTable'],
      resourceArns: [this.table.tableArn],
    });
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [this.bucket.arnForObjects(`${REPORTS_PREFIX}*`)] });
    this.bucket.encryptionKey?.grant(grantee, 'kms:Decrypt');
    this.table.encryptionKey?.grant(grantee, 'kms:Decrypt', 'kms:DescribeKey');
    return grant;
  }

  /**
   * A metric Lifeboat's handlers emit for a protected service: namespace
   * `metricsNamespace`, dimensions `service` = `lifeboat` (Powertools') and
   * `ProtectedService` = the service — e.g. `DrillAlarm`, `RtoSeconds`, `RpoBreached`,
   * `NewestSnapshotAgeSeconds`, `NoCandidate`, `SnapshotsExpired`.
   *
   * @default - statistic and period of `props`, else Maximum over 1 hour
   */
  metric(metricName: string, service: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricsNamespace,
      metricName,
      dimensionsMap: { service: POWERTOOLS_SERVICE_NAME, [SERVICE_DIMENSION]: service },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.hours(1),
      ...props,
    });
  }

  /**
   * 1 for a drill that failed, timed out, missed a target or could not run, 0 for a pass.
   *
   * @default - Maximum over 1 hour
   */
  metricDrillAlarm(service: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DrillAlarm', service, props);
  }

  /**
   * 1 per drill that passed within its targets.
   *
   * @default - Sum over 1 hour
   */
  metricDrillsPassed(service: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DrillsPassed', service, { statistic: cloudwatch.Stats.SUM, ...props });
  }

  /**
   * Recovery time measured by drills: task start to verified, in seconds.
   *
   * @default - Maximum over 1 hour
   */
  metricRto(service: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RtoSeconds', service, props);
  }

  /**
   * Recovery point measured by drills: age of the newest complete snapshot when the drill
   * started, in seconds.
   *
   * @default - Maximum over 1 hour
   */
  metricRpo(service: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RpoSeconds', service, props);
  }

  /**
   * Age of the service's newest complete snapshot, in seconds, published by the snapshot
   * watch every 5 minutes.
   *
   * @default - Maximum over 5 minutes
   */
  metricSnapshotAge(service: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('NewestSnapshotAgeSeconds', service, { period: Duration.minutes(5), ...props });
  }

  /**
   * 1 while the newest complete snapshot is older than the RPO target (or there is none),
   * 0 otherwise; published by the snapshot watch for services with an RPO target.
   *
   * @default - Maximum over 5 minutes
   */
  metricRpoBreached(service: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RpoBreached', service, { period: Duration.minutes(5), ...props });
  }

  /**
   * Failover checks that found the primary lost and no member able to take over: a
   * service without a primary.
   *
   * @default - Sum over 1 minute
   */
  metricNoPrimary(service: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('NoCandidate', service, { statistic: cloudwatch.Stats.SUM, period: Duration.minutes(1), ...props });
  }

  /**
   * Time from losing a primary to electing the next one, in milliseconds.
   *
   * @default - Maximum over 1 minute
   */
  metricFailoverTime(service: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('FailoverTime', service, { period: Duration.minutes(1), ...props });
  }

  /**
   * Messages waiting in the dead-letter queue: work the control plane could not do.
   *
   * @default - Maximum over 5 minutes
   */
  metricDeadLetters(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(5), ...props });
  }

  // -- used by ProtectedService ------------------------------------------------------------

  /** @internal The handler that serves a per-service schedule, if this version deploys one. */
  _serviceScheduleHandler(kind: ServiceScheduleKind): { def: HandlerDefinition; input: EventPattern } | undefined {
    for (const def of HANDLERS) {
      for (const t of def.triggers) if (t.kind === 'service-schedule' && t.policy === kind) return { def, input: t.input };
    }
    return undefined;
  }

  /** @internal The function behind `protect()`'s custom resource. */
  _serviceConfigFunction(): lambda.IFunction {
    const def = HANDLERS.find((d) => d.triggers.some((t) => t.kind === 'custom-resource'));
    return this.functions[def!.id]!;
  }

  /** @internal A Scheduler target invoking a handler, failures to the dead-letter queue. */
  _scheduleTarget(def: HandlerDefinition, input: Record<string, unknown>, every?: Duration): schedulerTargets.LambdaInvoke {
    return new schedulerTargets.LambdaInvoke(this.functions[def.id]!, {
      role: this.schedulerRole(def),
      input: scheduler.ScheduleTargetInput.fromObject(input),
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 3,
      // A frequent schedule's invocation is worthless after its next one.
      maxEventAge: every && every.toSeconds() < 3600 ? Duration.seconds(Math.max(60, every.toSeconds())) : Duration.hours(1),
    });
  }

  /** @internal Registers an alarm: the `alarms` list, the alarm action, the dashboard. */
  _addAlarm(alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    this._alarms.push(alarm);
    if (this.props.alarmAction) alarm.addAlarmAction(this.props.alarmAction);
    return alarm;
  }

  // -- private ------------------------------------------------------------------------------

  /**
   * The role the Scheduler assumes to invoke one handler, inside this construct (the
   * target's default role would sit at the stack's root), limited to this account.
   */
  private schedulerRole(def: HandlerDefinition): iam.Role {
    const existing = this.schedulerRoles.get(def.id);
    if (existing) return existing;
    const fn = this.functions[def.id]!;
    const role = new iam.Role(this, `${def.id}SchedulerRole`, {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } } }),
      description: `Lifeboat: EventBridge Scheduler invokes the ${def.id} function`,
    });
    // LambdaInvoke grants lambda:InvokeFunction on the function and on `<arn>:*` (its versions).
    acknowledgeWildcardResource(
      role,
      `${fn.functionArn}:*`,
      `the Scheduler target grant covers the ${def.id} function's versions and aliases (<arn>:*), and only that function`,
    );
    this.schedulerRoles.set(def.id, role);
    return role;
  }

  private createFunction(def: HandlerDefinition, reportMaxAge: Duration): lambda.Function {
    const environment: Record<string, string> = {
      [ENV.table]: this.table.tableName,
      [ENV.bucket]: this.bucket.bucketName,
      [ENV.metricsNamespace]: this.metricsNamespace,
    };
    if (def.settings?.includes('report-max-age')) environment[ENV.reportMaxAge] = `${reportMaxAge.toSeconds()}s`;
    if (def.settings?.includes('failover-queue') && this.failoverQueue) environment[ENV.failoverQueueUrl] = this.failoverQueue.queueUrl;
    const fn = createLifeboatFunction(this, def, {
      environment,
      logRetention: this.props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      deadLetterQueue: this.deadLetterQueue,
      tracing: this.props.tracing ?? lambda.Tracing.ACTIVE,
    });
    for (const access of def.access) {
      switch (access) {
        case 'table-read-write':
          fn.addToRolePolicy(new iam.PolicyStatement({ actions: TABLE_ITEM_ACTIONS, resources: [this.table.tableArn] }));
          this.table.encryptionKey?.grantEncryptDecrypt(fn);
          break;
        case 'service-registry-write':
          // Only the two policy items of a service: CONFIG#<service>/CONFIG and REGISTRY/SVC#<service>.
          fn.addToRolePolicy(
            new iam.PolicyStatement({
              actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem'],
              resources: [this.table.tableArn],
              // SVC#* only to delete the policy's layout-1 place (keys.ts: legacyServiceConfigKey).
              conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [serviceConfigPk('*'), servicePk('*'), 'REGISTRY'] } },
            }),
          );
          this.table.encryptionKey?.grantEncryptDecrypt(fn);
          break;
        case 'drill-reports-write': {
          const reports = this.bucket.arnForObjects(`${REPORTS_PREFIX}*`);
          fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [reports] }));
          this.bucket.encryptionKey?.grantEncryptDecrypt(fn);
          acknowledgeWildcardResource(
            fn.role!,
            reports,
            `the report writer puts the drill reports under ${REPORTS_PREFIX} (one object per format and service); the prefix is as narrow as the layout allows`,
          );
          break;
        }
        case 'failover-queue-send':
          this.failoverQueue?.grantSendMessages(fn);
          break;
        case 'snapshots-expire': {
          // Every service's snapshots (`<service>/snapshots/...`), nothing else in the bucket.
          const snapshots = this.bucket.arnForObjects('*/snapshots/*');
          fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket', 's3:ListBucketMultipartUploads'], resources: [this.bucket.bucketArn] }));
          fn.addToRolePolicy(
            new iam.PolicyStatement({
              // GetObject for the HEAD of a manifest; the Object Lock reads so S3 returns its retain-until and legal hold.
              actions: ['s3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:GetObjectRetention', 's3:GetObjectLegalHold'],
              resources: [snapshots],
            }),
          );
          // Garbage collection after the sweep (control/gc.ts): reads manifests, index files and
          // packs, writes repacked packs, index files and condemned lists, deletes what no snapshot uses.
          const shared = ['*/packs/*', '*/index/*', '*/gc/*'].map((p) => this.bucket.arnForObjects(p));
          fn.addToRolePolicy(
            new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], resources: shared }),
          );
          this.bucket.encryptionKey?.grantEncryptDecrypt(fn);
          acknowledgeWildcardResource(
            fn.role!,
            snapshots,
            'the retention sweep deletes expired snapshots of every protected service, whose keys are only known at run time; limited to the snapshots/ part of each service prefix',
          );
          for (const arn of shared) {
            acknowledgeWildcardResource(
              fn.role!,
              arn,
              "garbage collection after the retention sweep works on every protected service's shared v2 data (packs, index files, condemned lists), whose keys are only known at run time",
            );
          }
          break;
        }
      }
    }
    return fn;
  }

  /** Per-service grants of the handlers: its task definition, its cluster's tasks, its discovery. */
  private grantServiceAccess(service: ecs.BaseService, policy: ProtectionPolicy): void {
    const discovery: PrimaryDiscovery | undefined = policy.discovery;
    const stack = Stack.of(this);
    const clusterTasks = stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${service.cluster.clusterName}/*` });
    const inCluster = { ArnEquals: { 'ecs:cluster': service.cluster.clusterArn } };
    for (const def of HANDLERS) {
      const fn = this.functions[def.id]!;
      for (const access of def.serviceAccess ?? ([] as ServiceAccess[])) {
        if (access === 'run-drill-task') {
          this.grantRunTask(fn, service.taskDefinition, inCluster);
        } else if (access === 'run-dump-task') {
          if (policy.snapshot?.mode === 'dump') this.grantRunTask(fn, policy.snapshot.dumpTaskDefinition ?? service.taskDefinition, inCluster);
        } else if (access === 'stop-drill-task') {
          fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:StopTask'], resources: [clusterTasks], conditions: inCluster }));
          acknowledgeWildcardResource(
            fn.role!,
            clusterTasks,
            'the watchdog stops drill tasks, whose ids are only known at run time; limited to the protected cluster (ecs:cluster condition)',
          );
        } else if (access === 'read-service-tasks') {
          // ListTasks has no task resource to name; the condition limits it to the cluster.
          fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:ListTasks'], resources: ['*'], conditions: inCluster }));
          fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:DescribeTasks'], resources: [clusterTasks], conditions: inCluster }));
          acknowledgeWildcardResource(
            fn.role!,
            clusterTasks,
            "the reconciler describes the service's tasks, whose ids are only known at run time; limited to the protected cluster",
          );
        } else if (access === 'publish-primary' && discovery) {
          this.grantPublishPrimary(fn, discovery.service);
        }
      }
    }
  }

  /** RunTask of one task definition in one cluster, and PassRole of its roles to ECS tasks only. */
  private grantRunTask(fn: lambda.IFunction, taskDefinition: ecs.TaskDefinition, inCluster: Record<string, unknown>): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:RunTask'], resources: [taskDefinition.taskDefinitionArn], conditions: inCluster }));
    const roles = [taskDefinition.taskRole, taskDefinition.executionRole].filter((r): r is iam.IRole => r !== undefined);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: roles.map((r) => r.roleArn),
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
  }

  /**
   * RegisterInstance (and the GetInstance that avoids needless ones) on the service's Cloud
   * Map service. In a DNS namespace Cloud Map changes Route 53 records with the caller's
   * permissions, so the caller also needs those (no Route 53 health checks: Lifeboat keeps
   * the one instance pointed at the primary itself).
   */
  private grantPublishPrimary(fn: lambda.IFunction, service: cloudmap.IService): void {
    if (this.discoveryGrants.has(`${fn.node.id}:${service.serviceArn}`)) return;
    this.discoveryGrants.add(`${fn.node.id}:${service.serviceArn}`);
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['servicediscovery:RegisterInstance', 'servicediscovery:GetInstance'], resources: [service.serviceArn] }),
    );
    const type = service.namespace.type;
    if (type === cloudmap.NamespaceType.HTTP) return;
    // A namespace the stack made knows its hosted zone: only that zone's records. An imported
    // one does not, and falls back to every zone (acknowledged below).
    const zoneId = (service.namespace as Partial<cloudmap.PrivateDnsNamespace>).namespaceHostedZoneId;
    const zones = Stack.of(this).formatArn({ service: 'route53', region: '', account: '', resource: 'hostedzone', resourceName: zoneId ?? '*' });
    const grantKey = `${fn.node.id}:${zoneId ?? '*'}`;
    if (this.route53Grants.has(grantKey)) return;
    this.route53Grants.add(grantKey);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['route53:ChangeResourceRecordSets', 'route53:GetHostedZone'], resources: [zones] }));
    if (!this.route53Grants.has(`${fn.node.id}:list`)) {
      this.route53Grants.add(`${fn.node.id}:list`);
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['route53:ListHostedZonesByName'], resources: ['*'] }));
    }
    if (zoneId === undefined) {
      acknowledgeWildcardResource(
        fn.role!,
        zones,
        "Cloud Map writes the primary's DNS record with the caller's Route 53 permissions; an imported namespace does not tell the construct its hosted zone id",
      );
    }
  }

  /** Routes the cluster's task state changes to the handlers that want them. */
  private watchCluster(cluster: ecs.ICluster): void {
    const key = cluster.clusterArn;
    if (this.watchedClusters.has(key)) return;
    this.watchedClusters.add(key);
    for (const def of HANDLERS) {
      for (const trigger of def.triggers) {
        if (trigger.kind !== 'ecs-task-state-change') continue;
        let rule = this.clusterRules.get(trigger.id);
        if (!rule) {
          const pattern = ecsTaskEventPattern(trigger);
          rule = new events.Rule(this, trigger.id, {
            description: trigger.description,
            eventPattern: {
              source: pattern.source as string[],
              detailType: pattern['detail-type'] as string[],
              detail: pattern.detail as Record<string, unknown>,
            },
          });
          rule.addTarget(
            new eventTargets.LambdaFunction(this.functions[def.id]!, {
              deadLetterQueue: this.deadLetterQueue,
              retryAttempts: 8,
              maxEventAge: Duration.hours(6),
            }),
          );
          this.clusterRules.set(trigger.id, rule);
        }
        // The rule's clusters are the protected ones, and only those.
        rule.addEventPattern({ detail: { clusterArn: [cluster.clusterArn] } });
      }
    }
  }

  private monitorControlPlane(): void {
    const fns = HANDLERS.map((def) => ({ def, fn: this.functions[def.id]! }));
    for (const { def, fn } of fns) {
      this._addAlarm(
        new cloudwatch.Alarm(this, `${def.id}Errors`, {
          alarmDescription: `Lifeboat: the ${def.id} function failed (${def.description})`,
          metric: fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    this._addAlarm(
      new cloudwatch.Alarm(this, 'DeadLettersAlarm', {
        alarmDescription: 'Lifeboat: events, schedules or invocations failed after their retries; see the dead-letter queue',
        metric: this.metricDeadLetters(),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.dashboard?.addWidgets(
      new cloudwatch.TextWidget({ markdown: '# Lifeboat control plane', width: 24, height: 1 }),
      new cloudwatch.GraphWidget({
        title: 'Handler errors',
        left: fns.map(({ def, fn }) => fn.metricErrors({ label: def.id, period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Handler invocations',
        left: fns.map(({ def, fn }) => fn.metricInvocations({ label: def.id, period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: 'Dead letters', left: [this.metricDeadLetters({ label: 'messages' })], width: 8 }),
    );
  }

  /** ECS events, schedules and the agent's settings do not cross regions or accounts. */
  private assertSameEnvironment(name: string, service: ecs.BaseService): void {
    const here = Stack.of(this);
    const there = Stack.of(service);
    for (const what of ['region', 'account'] as const) {
      const a = here[what];
      const b = there[what];
      if (!Token.isUnresolved(a) && !Token.isUnresolved(b) && a !== b) {
        throw new Error(
          `protect('${name}'): the service is in ${what} ${b} but Lifeboat is in ${a}; ECS events and schedules do not cross ${what}s: put a Lifeboat in the service's ${what}`,
        );
      }
    }
  }
}
