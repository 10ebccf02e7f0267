/** Points every SDK client in this worker at the embedded servers (standard SDK variables). */
import { inject } from 'vitest';
import { scrubDeveloperEnv } from './test-env.js';

scrubDeveloperEnv();
const env = inject('awsEnv');
for (const [k, v] of Object.entries(env)) process.env[k] = v;
