/**
 * The example stack of the CDK app: a VPC, an ECS cluster and one stateful Fargate service
 * ("notes", data in /data) protected by Lifeboat — hourly snapshots, retention, a nightly
 * restore drill, RPO/RTO targets, failover after 30 s and a DNS name for the primary.
 *
 * The service is the example key-value store (examples/kv) running under `lifeboat agent`,
 * built from the repository's Dockerfile (target `example-kv`) when the stack is deployed;
 * synth only fingerprints the build context. `-c lifeboat:exampleImage=<image>` deploys an
 * image of your own instead (it must run the agent: see the Dockerfile's header).
 */
import { fileURLToPath } from 'node:url';
import { App, type AppProps, CfnOutput, Duration, Stack, type StackProps, TimeZone, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
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
   * Container image of the example service (it must run `lifeboat agent`).
   *
   * @default - the example key-value service, built from the repository's Dockerfile (target `example-kv`)
   */
  readonly image?: string;
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
      image: props.image ? ecs.ContainerImage.fromRegistry(props.image) : exampleImage(),
      environment: { LIFEBOAT_SERVICE: 'notes', KV_DIR: '/data' },
      portMappings: [{ containerPort: 8080 }],
      essential: true,
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'notes',
        logGroup: new logs.LogGroup(this, 'NotesLogs', { retention: logs.RetentionDays.ONE_MONTH }),
      }),
    });
    if (!props.image) {
      // Pulling the built image from the CDK asset repository needs ecr:GetAuthorizationToken,
      // an action that has no resource: ECS's managed execution policy grants it on `*` too.
      Validations.of(taskDefinition).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken (image pull from the CDK asset repository) has no resource-level permissions',
      });
    }
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
      // The example's hooks hold writes while the snapshot reads the log (examples/kv/kv-ctl.ts).
      snapshot: { schedule: ScheduleExpression.rate(Duration.hours(1)), preCommand: 'kv-ctl pause', postCommand: 'kv-ctl resume' },
      retention: { keepLast: 24, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 },
      drill: {
        schedule: ScheduleExpression.cron({ minute: '30', hour: '3', timeZone: TimeZone.EUROPE_PARIS }),
        verifyCommand: 'kv-ctl verify',
        app: { command: 'kv-server', healthCheckCommand: 'kv-ctl health', startTimeout: Duration.seconds(30) },
        timeout: Duration.minutes(30),
      },
      targets: { rpo: Duration.hours(2), rto: Duration.minutes(15) },
      failover: { timeout: Duration.seconds(30) },
      discovery: { service: primary, port: 8080 },
    });

    new CfnOutput(this, 'LifeboatTable', { value: this.lifeboat.table.tableName, description: 'LIFEBOAT_TABLE for the lifeboat CLI' });
    new CfnOutput(this, 'LifeboatBucket', { value: this.lifeboat.bucket.bucketName, description: 'LIFEBOAT_BUCKET; drill reports are under _reports/drills/' });
  }
}

/** The example service's image, built from the repository's Dockerfile at deploy time (arm64, like the task). */
function exampleImage(): ecs.ContainerImage {
  return ecs.ContainerImage.fromAsset(fileURLToPath(new URL('..', import.meta.url)), {
    target: 'example-kv',
    platform: Platform.LINUX_ARM64,
  });
}
