import { Annotations, CustomResource, Duration, Stack, TimeZone, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { Construct } from 'constructs';
import { ENV } from '../lambdas/contract/environment.js';
import { renderScheduleInput, SCHEDULED_TIME, SERVICE_SCHEDULE_KINDS, type ServiceScheduleKind } from '../lambdas/contract/triggers.js';
import type { DiscoveryPolicy, EcsPlacement, ServicePolicyInput } from '../lambdas/domain/service-policy.js';
import type { Lifeboat } from './lifeboat.js';
import { acknowledgeWildcardResource } from './private/acknowledge.js';
import { buildServicePolicy } from './private/policy.js';
import type { ProtectionPolicy } from './protection-policy.js';

/** Properties of a ProtectedService; create one with `Lifeboat.protect()`. */
export interface ProtectedServiceProps {
  /** The Lifeboat that protects the service. */
  readonly lifeboat: Lifeboat;
  /** The ECS service (Fargate or EC2). */
  readonly service: ecs.BaseService;
  /** How it is protected. */
  readonly policy: ProtectionPolicy;
}

/** Settings the agent reads from its container's environment. */
const AGENT_ENV = {
  service: ENV.service,
  dir: ENV.dir,
  table: ENV.table,
  bucket: ENV.bucket,
  region: 'AWS_REGION',
  failoverQueue: ENV.failoverQueueUrl,
} as const;

const SCHEDULE_IDS: Record<ServiceScheduleKind, string> = { snapshot: 'SnapshotSchedule', retention: 'RetentionSchedule', drill: 'DrillSchedule' };

/**
 * One ECS service protected by Lifeboat: its stored policy (a custom resource), its
 * schedules, its alarms and dashboard row. The task role's grants and the agent's settings
 * are applied to the service's own task definition.
 */
export class ProtectedService extends Construct {
  /** Lifeboat's name for the service (its catalog partition, S3 prefix, metric dimension). */
  readonly serviceName: string;
  /** The protected ECS service. */
  readonly service: ecs.BaseService;
  /** The container that runs the agent and received its settings. */
  readonly container: ecs.ContainerDefinition;
  /** The custom resource that stores the policy in the catalog table. */
  readonly policyResource: CustomResource;
  /** The service's schedules that this version of Lifeboat deploys, by policy section. */
  readonly schedules: Readonly<Partial<Record<'snapshot' | 'retention' | 'drill', scheduler.Schedule>>>;
  /** Alarms of this service: no primary, RPO breach, failed drill, stale drill. */
  readonly alarms: readonly cloudwatch.Alarm[];

  private readonly lifeboat: Lifeboat;
  private readonly agentSettings: Record<string, string>;

  constructor(scope: Construct, id: string, props: ProtectedServiceProps) {
    super(scope, id);
    const { lifeboat, service, policy } = props;
    this.lifeboat = lifeboat;
    this.service = service;
    this.serviceName = policy.name;

    const launchType = service instanceof ecs.FargateService ? 'FARGATE' : service instanceof ecs.Ec2Service ? 'EC2' : undefined;
    if (!launchType) {
      throw new Error(
        `protect('${policy.name}'): ${service.node.path} is neither a FargateService nor an Ec2Service; Lifeboat launches drill tasks with RunTask on Fargate or EC2`,
      );
    }
    const taskDefinition = service.taskDefinition;
    const container = policy.containerName ? taskDefinition.findContainer(policy.containerName) : taskDefinition.defaultContainer;
    if (!container) {
      const names = taskDefinition.node.children.filter((c): c is ecs.ContainerDefinition => c instanceof ecs.ContainerDefinition).map((c) => c.containerName);
      throw new Error(
        `protect('${policy.name}'): containerName ${JSON.stringify(policy.containerName ?? null)} is not a container of ${taskDefinition.node.path}; its containers are ${JSON.stringify(names)}: name the one that runs the Lifeboat agent`,
      );
    }
    this.container = container;
    // Drill tasks are launched with the task definition's roles; creating the execution role
    // now (ECS needs one for logs and private images anyway) lets the grant name it.
    taskDefinition.obtainExecutionRole();

    const dump = this.dumpTask(policy);
    const policyInput = buildServicePolicy(
      policy,
      placement(service, launchType, container),
      discoveryOf(policy),
      dump ? { taskDefinition: dump.taskDefinition.taskDefinitionArn, containerName: dump.container.containerName } : undefined,
    );

    // The policy goes where every handler and the agent read it, through the registry's own code.
    this.policyResource = new CustomResource(this, 'Policy', {
      serviceToken: lifeboat._serviceConfigFunction().functionArn,
      resourceType: 'Custom::LifeboatService',
      properties: { Policy: Stack.of(this).toJsonString(policyInput) },
    });

    this.schedules = this.createSchedules(policy, policyInput);
    this.agentSettings = this.configureAgent(policy, lifeboat, this.container);
    this.grantSnapshots(policy, taskDefinition);
    if (dump) {
      // The dump task snapshots what it dumped: the same settings and the same narrow access.
      this.configureAgent(policy, lifeboat, dump.container);
      this.grantSnapshots(policy, dump.taskDefinition);
    }
    this.alarms = this.createAlarms(policy);
    this.addDashboardRow(policy);
    this.node.addValidation({ validate: () => this.validateAgentSettings(policy) });
  }

  /**
   * The agent's settings must still be Lifeboat's when the app is synthesized: code that
   * runs after protect() could replace the container's variables, and the agent would then
   * write to another table or under another name.
   */
  private validateAgentSettings(policy: ProtectionPolicy): string[] {
    if (this.service.taskDefinition.findContainer(this.container.containerName) !== this.container) {
      return [
        `protect('${policy.name}'): container ${this.container.containerName} is no longer in the task definition; the Lifeboat agent has nowhere to run`,
      ];
    }
    const rendered = this.container.renderContainerDefinition();
    const environment = new Map((rendered.environment as ecs.CfnTaskDefinition.KeyValuePairProperty[] | undefined)?.map((e) => [e.name, e.value]) ?? []);
    return Object.entries(this.agentSettings)
      .filter(([name, value]) => environment.get(name) !== value)
      .map(
        ([name, value]) =>
          `protect('${policy.name}'): the container's ${name} is ${JSON.stringify(environment.get(name) ?? null)}, not Lifeboat's ${JSON.stringify(value)}; remove the later addEnvironment('${name}', ...) so the agent uses this Lifeboat`,
      );
  }

  /**
   * 1 for a drill of this service that failed, timed out, missed a target or could not
   * run; 0 for a pass.
   *
   * @default - Maximum over 1 hour
   */
  metricDrillAlarm(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.lifeboat.metricDrillAlarm(this.serviceName, props);
  }

  /**
   * 1 per drill of this service that passed within its targets.
   *
   * @default - Sum over 1 hour
   */
  metricDrillsPassed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.lifeboat.metricDrillsPassed(this.serviceName, props);
  }

  /**
   * Age of this service's newest complete snapshot, in seconds (the snapshot watch).
   *
   * @default - Maximum over 5 minutes
   */
  metricSnapshotAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.lifeboat.metricSnapshotAge(this.serviceName, props);
  }

  /**
   * 1 while this service's newest complete snapshot is older than its RPO target.
   *
   * @default - Maximum over 5 minutes
   */
  metricRpoBreached(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.lifeboat.metricRpoBreached(this.serviceName, props);
  }

  /**
   * Failover checks that found no primary and no member able to take over.
   *
   * @default - Sum over 1 minute
   */
  metricNoPrimary(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.lifeboat.metricNoPrimary(this.serviceName, props);
  }

  /**
   * Time from losing a primary to electing the next one, in milliseconds.
   *
   * @default - Maximum over 1 minute
   */
  metricFailoverTime(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.lifeboat.metricFailoverTime(this.serviceName, props);
  }

  /**
   * Recovery time measured by this service's drills, in seconds.
   *
   * @default - Maximum over 1 hour
   */
  metricRto(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.lifeboat.metricRto(this.serviceName, props);
  }

  /**
   * Recovery point measured by this service's drills (age of the newest complete snapshot
   * at drill start), in seconds.
   *
   * @default - Maximum over 1 hour
   */
  metricRpo(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.lifeboat.metricRpo(this.serviceName, props);
  }

  private createSchedules(policy: ProtectionPolicy, stored: ServicePolicyInput): Partial<Record<ServiceScheduleKind, scheduler.Schedule>> {
    const schedules: Partial<Record<ServiceScheduleKind, scheduler.Schedule>> = {};
    const given: Record<ServiceScheduleKind, scheduler.ScheduleExpression | undefined> = {
      snapshot: policy.snapshot?.schedule,
      retention: policy.retention?.schedule,
      drill: policy.drill?.schedule,
    };
    for (const kind of SERVICE_SCHEDULE_KINDS) {
      const section = stored[kind] as { schedule?: string; timezone?: string } | undefined;
      if (!section?.schedule) continue;
      const handler = this.lifeboat._serviceScheduleHandler(kind);
      if (!handler) {
        Annotations.of(this).addWarningV2(
          `lifeboat:${kind}ScheduleNotDeployed`,
          `protect('${policy.name}'): ${kind}.schedule is stored in the policy, but this version of Lifeboat has no ${kind} handler to run it; no ${kind} schedule is created`,
        );
        continue;
      }
      const expression = given[kind] ?? scheduler.ScheduleExpression.expression(section.schedule, TimeZone.of(section.timezone ?? 'Etc/UTC'));
      const schedule = new scheduler.Schedule(this, SCHEDULE_IDS[kind], {
        schedule: expression,
        description: `Lifeboat: ${kind} of ${policy.name}`,
        scheduleGroup: this.lifeboat.scheduleGroup,
        // Scheduler fills in its own context attribute, which is the table's placeholder.
        target: this.lifeboat._scheduleTarget(handler.def, renderScheduleInput(handler.input, { service: policy.name, scheduledTime: SCHEDULED_TIME })),
      });
      // A schedule that fires before its policy is stored would find no service.
      schedule.node.addDependency(this.policyResource);
      schedules[kind] = schedule;
    }
    return schedules;
  }

  /** A separate dump task definition and its container, when snapshots are dumps. */
  private dumpTask(policy: ProtectionPolicy): { taskDefinition: ecs.TaskDefinition; container: ecs.ContainerDefinition } | undefined {
    const taskDefinition = policy.snapshot?.mode === 'dump' ? policy.snapshot.dumpTaskDefinition : undefined;
    if (!taskDefinition || taskDefinition === this.service.taskDefinition) return undefined;
    const name = policy.snapshot?.dumpContainerName;
    const container = name ? taskDefinition.findContainer(name) : taskDefinition.defaultContainer;
    if (!container) {
      throw new Error(
        `protect('${policy.name}'): snapshot.dumpContainerName ${JSON.stringify(name ?? null)} is not a container of ${taskDefinition.node.path}; name the container that runs the dump`,
      );
    }
    taskDefinition.obtainExecutionRole();
    return { taskDefinition, container };
  }

  /** Only the service's own prefix and partition, for a task definition that snapshots it. */
  private grantSnapshots(policy: ProtectionPolicy, taskDefinition: ecs.TaskDefinition): void {
    this.lifeboat.grantSnapshotAccess(taskDefinition.taskRole, policy.name);
    acknowledgeWildcardResource(
      taskDefinition.taskRole,
      this.lifeboat.bucket.arnForObjects(`${policy.name}/*`),
      `the ${policy.name} tasks write and read their own snapshots, whose keys are made at run time, under their own prefix only`,
    );
  }

  /** The agent's settings, as environment variables of its container. */
  private configureAgent(policy: ProtectionPolicy, lifeboat: Lifeboat, container: ecs.ContainerDefinition): Record<string, string> {
    const settings: Record<string, string> = {
      [AGENT_ENV.service]: policy.name,
      [AGENT_ENV.dir]: policy.dataDirectory,
      [AGENT_ENV.table]: lifeboat.table.tableName,
      [AGENT_ENV.bucket]: lifeboat.bucket.bucketName,
      // The table and bucket's region, which EC2 container instances do not always set.
      [AGENT_ENV.region]: Stack.of(lifeboat).region,
    };
    if (lifeboat.failoverQueue) {
      // An agent that elects itself hands the service to the watchdog through the queue.
      settings[AGENT_ENV.failoverQueue] = lifeboat.failoverQueue.queueUrl;
      lifeboat.failoverQueue.grantSendMessages(container.taskDefinition.taskRole);
    }
    for (const [name, value] of Object.entries(settings)) container.addEnvironment(name, value);
    return settings;
  }

  private createAlarms(policy: ProtectionPolicy): cloudwatch.Alarm[] {
    const alarms: cloudwatch.Alarm[] = [];
    const name = policy.name;
    if (this.lifeboat.failoverQueue) {
      alarms.push(
        this.lifeboat._addAlarm(
          new cloudwatch.Alarm(this, 'NoPrimaryAlarm', {
            alarmDescription: `Lifeboat: ${name} has had no primary for 3 minutes: its primary was lost and no member can take over`,
            metric: this.metricNoPrimary(),
            threshold: 1,
            // The watchdog checks every minute; three checks in a row without a candidate.
            evaluationPeriods: 3,
            datapointsToAlarm: 3,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
        ),
      );
    }
    const rpo = policy.targets?.rpo;
    if (rpo) {
      alarms.push(
        this.lifeboat._addAlarm(
          new cloudwatch.Alarm(this, 'RpoAlarm', {
            alarmDescription: `Lifeboat: ${name}'s newest complete snapshot is older than its RPO target (${rpo.toHumanString()}), or it has none`,
            metric: this.metricRpoBreached(),
            threshold: 1,
            // The snapshot watch publishes every 5 minutes; two in a row, so one late run is not a page.
            evaluationPeriods: 2,
            datapointsToAlarm: 2,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            // No data means the watch did not run: its own Errors alarm says so.
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
        ),
      );
    }
    if (!policy.drill) return alarms;
    alarms.push(
      this.lifeboat._addAlarm(
        new cloudwatch.Alarm(this, 'DrillFailedAlarm', {
          alarmDescription: `Lifeboat: the latest restore drill of ${name} failed, timed out, missed its RTO/RPO target or could not run (stays in alarm until a drill passes)`,
          metric: this.metricDrillAlarm(),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          // One data point per drill: between drills the last verdict stands.
          treatMissingData: cloudwatch.TreatMissingData.IGNORE,
        }),
      ),
    );
    const staleHours = policy.drill.staleAfter && !policy.drill.staleAfter.isUnresolved() ? policy.drill.staleAfter.toHours() : 26;
    alarms.push(
      this.lifeboat._addAlarm(
        new cloudwatch.Alarm(this, 'DrillStaleAlarm', {
          alarmDescription: `Lifeboat: no restore drill of ${name} has passed within its targets for ${staleHours} hours`,
          metric: this.metricDrillsPassed({ period: Duration.hours(1) }),
          threshold: 1,
          // Every hour of the window without a pass breaches; one pass clears it.
          evaluationPeriods: staleHours,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        }),
      ),
    );
    return alarms;
  }

  private addDashboardRow(policy: ProtectionPolicy): void {
    const dashboard = this.lifeboat.dashboard;
    if (!dashboard) return;
    const annotations = (d: Duration | undefined, label: string): cloudwatch.HorizontalAnnotation[] =>
      d && !d.isUnresolved() ? [{ value: d.toSeconds(), label, color: cloudwatch.Color.RED }] : [];
    dashboard.addWidgets(
      new cloudwatch.TextWidget({ markdown: `## ${policy.name}`, width: 24, height: 1 }),
      new cloudwatch.GraphWidget({
        title: `${policy.name}: recovery time and point`,
        left: [this.metricRto({ label: 'RTO measured by drills (s)' }), this.metricSnapshotAge({ label: 'newest snapshot age (s)' })],
        leftAnnotations: [...annotations(policy.targets?.rto, 'RTO target'), ...annotations(policy.targets?.rpo, 'RPO target')],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: `${policy.name}: drills`,
        left: [
          this.metricDrillsPassed({ label: 'passed', period: Duration.days(1) }),
          this.lifeboat.metric('DrillsFailed', policy.name, { label: 'failed', statistic: cloudwatch.Stats.SUM, period: Duration.days(1) }),
          this.lifeboat.metric('DrillErrors', policy.name, { label: 'could not run', statistic: cloudwatch.Stats.SUM, period: Duration.days(1) }),
        ],
        width: 6,
      }),
      new cloudwatch.AlarmStatusWidget({ title: `${policy.name}: alarms`, alarms: [...this.alarms], width: 6 }),
    );
    if (this.lifeboat.failoverQueue) {
      dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `${policy.name}: failover`,
          left: [this.metricFailoverTime({ label: 'failover time (ms)', period: Duration.minutes(5) })],
          right: [this.metricNoPrimary({ label: 'checks without a primary', period: Duration.minutes(5) })],
          width: 24,
        }),
      );
    }
  }
}

/** Where the service runs, for drill tasks launched with RunTask. */
function placement(service: ecs.BaseService, launchType: 'FARGATE' | 'EC2', container: ecs.ContainerDefinition): EcsPlacement {
  // BaseService keeps its awsvpc settings in a protected accessor and exposes no other way
  // to read them; drills must run with the service's own subnets and security groups.
  const network = (service as unknown as { networkConfiguration?: ecs.CfnService.NetworkConfigurationProperty }).networkConfiguration;
  const awsvpc = network?.awsvpcConfiguration as ecs.CfnService.AwsVpcConfigurationProperty | undefined;
  return {
    cluster: service.cluster.clusterArn,
    // The reconciler lists the service's tasks by the ECS service's own name.
    serviceName: service.serviceName,
    taskDefinition: service.taskDefinition.taskDefinitionArn,
    containerName: container.containerName,
    launchType,
    ...(awsvpc?.subnets ? { subnets: awsvpc.subnets } : {}),
    ...(awsvpc?.securityGroups ? { securityGroups: awsvpc.securityGroups } : {}),
    ...(awsvpc && !Token.isUnresolved(awsvpc.assignPublicIp) ? { assignPublicIp: awsvpc.assignPublicIp === 'ENABLED' } : {}),
  };
}

function discoveryOf(policy: ProtectionPolicy): DiscoveryPolicy | undefined {
  const d = policy.discovery;
  if (!d) return undefined;
  return {
    namespaceId: d.service.namespace.namespaceId,
    serviceId: d.service.serviceId,
    ...(d.instanceId !== undefined ? { instanceId: d.instanceId } : {}),
    ...(d.port !== undefined ? { port: d.port } : {}),
  };
}
