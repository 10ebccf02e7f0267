/**
 * Starts DynamoDB Local and the S3 server once per test run, on free loopback ports, and
 * stops them afterwards. Workers receive the endpoints through `inject('awsEnv')`.
 */
import type { TestProject } from 'vitest/node';
import { startEmbeddedServices } from '../../lambdas/local/embedded-services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    awsEnv: Record<string, string>;
  }
}

export default async function setup(project: TestProject) {
  const services = await startEmbeddedServices();
  project.provide('awsEnv', services.env);
  return async () => {
    await services.stop();
  };
}
