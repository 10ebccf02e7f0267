import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One DynamoDB Local and one S3 server for the whole run; each test file makes its own
    // table and bucket, so files can run in parallel against them.
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/aws-env.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
