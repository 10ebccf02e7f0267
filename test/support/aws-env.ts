/** Points every SDK client in this worker at the embedded servers (standard SDK variables). */
import { inject } from 'vitest';

const env = inject('awsEnv');
for (const [k, v] of Object.entries(env)) process.env[k] = v;
// The tests' own settings must not leak in from the developer's shell.
delete process.env.AWS_PROFILE;
delete process.env.LIFEBOAT_TABLE;
delete process.env.LIFEBOAT_BUCKET;
delete process.env.LIFEBOAT_STORE;
