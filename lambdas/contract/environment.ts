/**
 * The environment variables Lifeboat reads, named once: the CDK construct sets them on the
 * functions and the agent's container, the runtime (lambdas/runtime/) and the CLI read them,
 * local mode sets them for its tasks. Plain data and one pure function; no I/O.
 */
export const ENV = {
  /** The DynamoDB table: catalog, members, leases, policies, drills, jobs. */
  table: 'LIFEBOAT_TABLE',
  /** The object store as a URL (`s3://bucket/prefix`, `file:///path`); wins over bucket + prefix. */
  store: 'LIFEBOAT_STORE',
  /** The S3 bucket (the construct sets this one), with an optional key prefix. */
  bucket: 'LIFEBOAT_BUCKET',
  prefix: 'LIFEBOAT_PREFIX',
  /** CloudWatch namespace of the EMF metrics. */
  metricsNamespace: 'LIFEBOAT_METRICS_NAMESPACE',
  /** The failover queue (delayed "check this service" messages). */
  failoverQueueUrl: 'LIFEBOAT_FAILOVER_QUEUE_URL',
  /** Staleness limit of stored drill reports, e.g. `93600s` or `26h`. */
  reportMaxAge: 'LIFEBOAT_REPORT_MAX_AGE',
  /** The protected service an agent serves. */
  service: 'LIFEBOAT_SERVICE',
  /** The agent's data directory. */
  dir: 'LIFEBOAT_DIR',
  /** This task's ARN, when the ECS metadata endpoint is not there (local mode, tests). */
  task: 'LIFEBOAT_TASK',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];
export type Env = Record<string, string | undefined>;

/**
 * The object store's URL from the environment: LIFEBOAT_STORE, else `s3://LIFEBOAT_BUCKET/LIFEBOAT_PREFIX`;
 * undefined when neither is set (the caller says what to set).
 */
export function storeUrlFromEnv(env: Env): string | undefined {
  const url = env[ENV.store];
  if (url) return url;
  const bucket = env[ENV.bucket];
  return bucket ? `s3://${bucket}/${env[ENV.prefix] ?? ''}` : undefined;
}
