/**
 * SDK client construction and error translation shared by every AWS adapter.
 *
 * Clients take their settings from the SDK's standard environment (AWS_REGION,
 * AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB, AWS_MAX_ATTEMPTS,
 * credentials chain), so the same code runs against AWS and against local servers.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { S3Client } from '@aws-sdk/client-s3';
import { ServiceDiscoveryClient } from '@aws-sdk/client-servicediscovery';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UnavailableError, UsageError } from '../domain/errors.js';

type Env = Record<string, string | undefined>;

function customEndpoint(env: Env, service: 'S3' | 'DYNAMODB' | 'ECS' | 'SERVICEDISCOVERY' | 'SQS'): string | undefined {
  return env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
}

function region(env: Env, endpoint: string | undefined): string {
  const r = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (r) return r;
  // A local server does not care about the region, but the SDK refuses to sign without one.
  if (endpoint) return 'us-east-1';
  throw new UsageError('no AWS region is configured', { hint: 'set AWS_REGION (for example AWS_REGION=eu-west-1)' });
}

/** Explicit settings from `env`, so a caller's environment (not only process.env) is honoured. */
function common(env: Env, endpoint: string | undefined) {
  const attempts = Number(env.AWS_MAX_ATTEMPTS);
  const keys =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN } }
      : {};
  return {
    region: region(env, endpoint),
    ...(endpoint ? { endpoint } : {}),
    ...(attempts > 0 ? { maxAttempts: attempts } : {}),
    ...keys,
  };
}

export function createS3Client(env: Env = process.env): S3Client {
  const endpoint = customEndpoint(env, 'S3');
  return new S3Client({
    ...common(env, endpoint),
    // S3-compatible servers on loopback have no virtual-host DNS; AWS itself needs none.
    forcePathStyle: env.LIFEBOAT_S3_PATH_STYLE ? env.LIFEBOAT_S3_PATH_STYLE === 'true' : endpoint !== undefined,
  });
}

export function createDynamoBaseClient(env: Env = process.env): DynamoDBClient {
  return new DynamoDBClient(common(env, customEndpoint(env, 'DYNAMODB')));
}

export function createDynamoClient(env: Env = process.env): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(createDynamoBaseClient(env), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/** ECS, for RunTask/StopTask (drill tasks). No local server exists; tests mock it. */
export function createEcsClient(env: Env = process.env): ECSClient {
  return new ECSClient(common(env, customEndpoint(env, 'ECS')));
}

export function createServiceDiscoveryClient(env: Env = process.env): ServiceDiscoveryClient {
  return new ServiceDiscoveryClient(common(env, customEndpoint(env, 'SERVICEDISCOVERY')));
}

export function createSqsClient(env: Env = process.env): SQSClient {
  return new SQSClient(common(env, customEndpoint(env, 'SQS')));
}

interface AwsErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE']);

/** The HTTP status of an SDK error, if it got that far. */
export function httpStatus(err: unknown): number | undefined {
  return (err as AwsErrorShape)?.$metadata?.httpStatusCode;
}

export function errorName(err: unknown): string | undefined {
  return (err as AwsErrorShape)?.name;
}

/**
 * Turns connection, credential and permission failures into UnavailableError (exit 3)
 * naming what could not be reached; returns other errors unchanged for the caller.
 */
export function translateAwsError(err: unknown, what: string): unknown {
  const e = err as AwsErrorShape;
  if (typeof e !== 'object' || e === null) return err;
  const msg = e.message ?? String(err);
  if ((e.code && NETWORK_CODES.has(e.code)) || e.name === 'TimeoutError' || /ECONNREFUSED|ENOTFOUND|socket hang up/.test(msg)) {
    return new UnavailableError(`cannot reach ${what}: ${msg}`, {
      hint: 'check the endpoint (AWS_ENDPOINT_URL_*), the network and AWS_REGION',
      cause: err,
    });
  }
  if (e.name === 'CredentialsProviderError' || /credential/i.test(e.name ?? '')) {
    return new UnavailableError(`no AWS credentials for ${what}: ${msg}`, {
      hint: 'configure credentials (task role, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)',
      cause: err,
    });
  }
  const status = httpStatus(err);
  if (status === 403 || e.name === 'AccessDenied' || e.name === 'AccessDeniedException' || e.name === 'UnrecognizedClientException') {
    return new UnavailableError(`access denied to ${what}: ${msg}`, {
      hint: 'grant the task role access (the CDK construct does this with protect()) or check the credentials',
      cause: err,
    });
  }
  return err;
}

/**
 * The error to throw for a failed call on a Lifeboat table: connection, credential and
 * permission failures as translateAwsError says, a missing table with how to create it,
 * anything else as UnavailableError naming the action.
 */
export function tableError(err: unknown, table: string, action: string): unknown {
  const t = translateAwsError(err, `table ${table}`);
  if (t !== err) return t;
  if (errorName(err) === 'ResourceNotFoundException') {
    return new UnavailableError(`table ${table} does not exist`, {
      hint: 'create it with `lifeboat init`, deploy the CDK construct, or fix LIFEBOAT_TABLE / --table',
    });
  }
  return new UnavailableError(`${action} on table ${table} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
