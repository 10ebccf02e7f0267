/**
 * Starts DynamoDB Local and the S3 server once per test run, on free loopback ports, and
 * stops them afterwards. Workers receive the endpoints through `inject('awsEnv')`.
 *
 * Both server projects (integration, e2e) list this file, and Vitest loads it once per
 * project, so module state is not shared between them: the servers are kept on `globalThis`
 * of the main process with a count of users, and the last teardown stops them.
 */
import type { TestProject } from 'vitest/node';
import { type EmbeddedServices, startEmbeddedServices } from '../../lambdas/local/embedded-services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    awsEnv: Record<string, string>;
  }
}

interface Shared {
  services: Promise<EmbeddedServices>;
  users: number;
}

const KEY = Symbol.for('lifeboat.test.embeddedServices');
const holder = globalThis as { [KEY]?: Shared };

export default async function setup(project: TestProject) {
  const shared = (holder[KEY] ??= { services: startEmbeddedServices(), users: 0 });
  shared.users += 1;
  const services = await shared.services;
  project.provide('awsEnv', services.env);
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    delete holder[KEY];
    await services.stop();
  };
}
