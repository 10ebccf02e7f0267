/**
 * The example stack of the CDK app: a VPC, an ECS cluster and one stateful Fargate service
 * ("notes", data in /data) protected by Lifeboat — hourly snapshots, retention, a nightly
 * restore drill, RPO/RTO targets, failover after 30 s and a DNS name for the primary.
 *
 * The image is a placeholder (`-c lifeboat:exampleImage=<image>` replaces it): a real one
 * runs the application and `lifeboat agent --restore` next to it, and a `verify` command the
 * drill can run (see the README).
 */
import { App, CfnOutput, Duration, Stack, TimeZone, Validations, type AppProps, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import * as cloudmap from 'aws-cdk-lib/aws-servicediscovery';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { Lifeboat } from '../lib/index.js';

/**
 * The app `cdk.json` runs: the example stack, reviewed by cdk-nag's AwsSolutions and
 * Serverless packs during synth — a finding nobody acknowledged fails the synth.
 */
export function createExampleApp(props?: AppProps): App {
  const app = new App(props);
  new LifeboatExampleStack(app, 'LifeboatExample', {
    description: 'Lifeboat example: a stateful Fargate service whose data survives any task',
    image: app.node.tryGetContext('lifeboat:exampleImage'),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return app;
}

export interface LifeboatExampleStackProps extends StackProps {
  /**
   * Container image of the example service.
   *
   * @default - a public BusyBox image that only keeps /data: a placeholder
   */
  readonly image?: string;

  /**
   * Container image of the Postgres example service (Postgres 15 + the lifeboat agent).
   *
   * @default - the public postgres:15 image: a placeholder without the agent
   */
  readonly postgresImage?: string;
}

export class LifeboatExampleStack extends Stack {
  readonly lifeboat: Lifeboat;
  readonly service: ecs.FargateService;

  constructor(scope: Construct, id: string, props: LifeboatExampleStackProps = {}) {
    super(scope, id, props);

    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH });
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      ],
      flowLogs: { all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) } },
      // Gateway endpoints: snapshots and the catalog stay off the NAT gateway.
      gatewayEndpoints: {
        s3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        dynamodb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
      // No custom resource to strip the default security group's rules; nothing uses it.
      restrictDefaultSecurityGroup: false,
    });

    const cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });

    const taskDefinition = new ecs.FargateTaskDefinition(this, 'NotesTask', {
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    taskDefinition.addContainer('notes', {
      image: ecs.ContainerImage.fromRegistry(props.image ?? 'public.ecr.aws/docker/library/busybox:stable'),
      command: props.image ? undefined : ['sh', '-c', 'mkdir -p /data && exec sleep 2147483647'],
      essential: true,
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'notes',
        logGroup: new logs.LogGroup(this, 'NotesLogs', { retention: logs.RetentionDays.ONE_MONTH }),
      }),
    });
    // protect() gives the container Lifeboat's settings (table, bucket, service, data
    // directory, region) as environment variables: names, not secrets.
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'the environment holds the Lifeboat agent settings (table and bucket names, service name, data directory), none of them secret',
    });

    this.service = new ecs.FargateService(this, 'Notes', {
      cluster,
      taskDefinition,
      desiredCount: 2,
      minHealthyPercent: 50,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      circuitBreaker: { rollback: true },
    });

    // Clients reach the primary at primary.notes.internal: a Cloud Map service of its own
    // that Lifeboat keeps pointed at the primary task.
    const namespace = new cloudmap.PrivateDnsNamespace(this, 'Namespace', { name: 'notes.internal', vpc });
    const primary = namespace.createService('Primary', { name: 'primary', dnsRecordType: cloudmap.DnsRecordType.A, dnsTtl: Duration.seconds(10) });

    this.lifeboat = new Lifeboat(this, 'Lifeboat');
    this.lifeboat.protect(this.service, {
      name: 'notes',
      dataDirectory: '/data',
      snapshot: { schedule: ScheduleExpression.rate(Duration.hours(1)) },
      retention: { keepLast: 24, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 },
      drill: {
        schedule: ScheduleExpression.cron({ minute: '30', hour: '3', timeZone: TimeZone.EUROPE_PARIS }),
        verifyCommand: 'test -d "$LIFEBOAT_DIR"',
        timeout: Duration.minutes(30),
      },
      targets: { rpo: Duration.hours(2), rto: Duration.minutes(15) },
      failover: { timeout: Duration.seconds(30) },
      discovery: { service: primary },
    });

    // A PostgreSQL service protected through the postgres recipe: pg_basebackup snapshots
    // with a canary, drills that open the restored database and run typed checks. The image
    // must hold Postgres 15 and the lifeboat agent (examples/postgres shows the entrypoint).
    const ordersTask = new ecs.FargateTaskDefinition(this, 'OrdersTask', {
      cpu: 512,
      memoryLimitMiB: 1024,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    ordersTask.addContainer('postgres', {
      image: ecs.ContainerImage.fromRegistry(props.postgresImage ?? 'public.ecr.aws/docker/library/postgres:15'),
      essential: true,
      environment: { PGDATA: '/var/lib/postgresql/data' },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'orders', logGroup: new logs.LogGroup(this, 'OrdersLogs', { retention: logs.RetentionDays.ONE_MONTH }) }),
    });
    Validations.of(ordersTask).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'the environment holds PGDATA and the Lifeboat agent settings (table and bucket names, service name), none of them secret',
    });
    const orders = new ecs.FargateService(this, 'Orders', {
      cluster,
      taskDefinition: ordersTask,
      desiredCount: 2,
      minHealthyPercent: 50,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      circuitBreaker: { rollback: true },
    });
    this.lifeboat.protect(orders, {
      name: 'orders',
      dataDirectory: '/var/lib/postgresql/data',
      recipe: 'postgres',
      database: { name: 'orders', user: 'postgres' },
      snapshot: { schedule: ScheduleExpression.rate(Duration.minutes(15)), preCommand: 'pg-example-ctl ready' },
      retention: { keepLast: 96, keepDaily: 14 },
      drill: {
        schedule: ScheduleExpression.cron({ minute: '0', hour: '4', timeZone: TimeZone.EUROPE_PARIS }),
        timeout: Duration.minutes(30),
        checks: [
          { type: 'integrity' },
          { type: 'sql', name: 'orders exist', query: 'select count(*) from orders', expect: { atLeast: 1 } },
          { type: 'sql', name: 'no orphan lines', query: 'select l.id from order_lines l left join orders o on o.id = l.order_id where o.id is null', expect: { rows: 0 } },
        ],
      },
      targets: { rpo: Duration.minutes(30), rto: Duration.minutes(10) },
      failover: { timeout: Duration.seconds(30) },
    });

    new CfnOutput(this, 'LifeboatTable', { value: this.lifeboat.table.tableName, description: 'LIFEBOAT_TABLE for the lifeboat CLI' });
    new CfnOutput(this, 'LifeboatBucket', { value: this.lifeboat.bucket.bucketName, description: 'LIFEBOAT_BUCKET; drill reports are under _reports/drills/' });
  }
}
