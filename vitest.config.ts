import { defineConfig } from 'vitest/config';

/**
 * Four projects, one per kind of test, so each can run alone (`npm run test:unit`, …):
 * - unit: pure code and in-memory stand-ins; no Java, no servers, runs in seconds.
 * - integration: adapters, engine and CLI against DynamoDB Local and the S3 server.
 * - cdk: the construct, synthesized and asserted; no servers.
 * - e2e: local mode end to end, on the same servers as integration.
 * Only integration and e2e list the global setup, and Vitest runs a project's global setup
 * only when that project has files in the run, so `--project unit` never starts Java.
 */
const servers = {
  // One DynamoDB Local and one S3 server per run, shared by both projects that list this
  // setup; each test file makes its own table and bucket, so files can run in parallel.
  globalSetup: ['test/support/global-setup.ts'],
  setupFiles: ['test/support/aws-env.ts'],
};

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          setupFiles: ['test/support/no-servers-env.ts'],
        },
      },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], ...servers } },
      {
        extends: true,
        test: {
          name: 'cdk',
          include: ['test/cdk/**/*.test.ts'],
          setupFiles: ['test/support/no-servers-env.ts'],
          // The first synth of a file bundles every Lambda with esbuild: 37 s on the shared
          // 2-core machine at load 22, 77-95 s at load 30+, past the default bounds.
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          ...servers,
          // Local mode runs real tasks with 6 s leases on 2 cores: alone, after the other
          // projects, one file at a time, so a busy machine does not make leases lapse.
          sequence: { groupOrder: 1 },
          fileParallelism: false,
        },
      },
    ],
  },
});
