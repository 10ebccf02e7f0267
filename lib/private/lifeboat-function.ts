/**
 * One Lambda function of the control plane, built the same way for every handler: bundled
 * from `lambdas/handlers/<entry>` with the local esbuild (never Docker), ESM, the newest
 * Node.js runtime, arm64, its own role (no managed policies) and log group with retention,
 * active tracing, and failed asynchronous invocations sent to the dead-letter queue.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledge } from './acknowledge.js';
import type { HandlerDefinition } from './handlers.js';

/** The repository (or installed package) root: `lib/private/` is two levels down. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const HANDLERS_DIR = fileURLToPath(new URL('../../lambdas/handlers/', import.meta.url));

/** The newest Node.js runtime aws-cdk-lib 2.276 knows; arm64 is supported on it. */
export const RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * esbuild settings shared by every handler (and by the test that checks what each bundle
 * pulls in). ESM output; the banner gives CommonJS dependencies the `require` they expect.
 */
export const BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  mainFields: ['module', 'main'],
  banner: "import { createRequire as __lifeboatCreateRequire } from 'node:module'; const require = __lifeboatCreateRequire(import.meta.url);",
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  // Bundle the AWS SDK too: the versions the code was tested with, not the runtime's.
  externalModules: [],
  forceDockerBundling: false,
};

/** Why a function's role may have statements on "*" — the test checks the actions are these. */
export const RESOURCE_STAR_ACTIONS = ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'ecs:ListTasks', 'route53:ListHostedZonesByName'];
const RESOURCE_STAR_REASON =
  'only actions without resource-level permissions are granted on "*": X-Ray trace writes and, where a handler needs them, ecs:ListTasks (held to the protected clusters by an ecs:cluster condition) and route53:ListHostedZonesByName (Cloud Map DNS discovery)';

export interface LifeboatFunctionOptions {
  readonly environment: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  readonly deadLetterQueue: sqs.IQueue;
  readonly tracing: lambda.Tracing;
}

export function createLifeboatFunction(scope: Construct, def: HandlerDefinition, options: LifeboatFunctionOptions): nodejs.NodejsFunction {
  const entry = `${HANDLERS_DIR}${def.entry}`;
  if (!existsSync(entry))
    throw new Error(`Lifeboat handler ${def.id}: ${entry} does not exist; its entry in lib/private/handlers.ts names a file that is not in lambdas/handlers/`);

  const logGroup = new logs.LogGroup(scope, `${def.id}Logs`, {
    retention: options.logRetention,
    // Logs of the control plane, not data: they go with the stack.
    removalPolicy: RemovalPolicy.DESTROY,
  });
  // Its own role without AWSLambdaBasicExecutionRole: writing to its own log group is all it needs.
  const role = new iam.Role(scope, `${def.id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `Lifeboat ${def.id} function`,
  });
  logGroup.grantWrite(role);

  const fn = new nodejs.NodejsFunction(scope, def.id, {
    entry,
    handler: 'handler',
    description: def.description,
    runtime: RUNTIME,
    architecture: lambda.Architecture.ARM_64,
    memorySize: def.memorySize,
    timeout: def.timeout,
    role,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    tracing: options.tracing,
    environment: {
      ...options.environment,
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'lifeboat',
    },
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
    bundling: BUNDLING,
    // Schedules, rules and CloudFormation invoke asynchronously: retry twice, then keep the event.
    retryAttempts: 2,
    maxEventAge: Duration.hours(6),
    onFailure: new destinations.SqsDestination(options.deadLetterQueue),
  });

  acknowledge(
    fn,
    'Serverless-LambdaDLQ',
    'failed asynchronous invocations go to an on-failure destination (the control plane dead-letter queue), which keeps the error along with the event: the successor of a function DLQ',
  );
  if (options.tracing !== lambda.Tracing.DISABLED) {
    acknowledge(role, 'AwsSolutions-IAM5[Resource::*]', RESOURCE_STAR_REASON);
  }
  return fn;
}
