/**
 * For the projects that start no servers (unit, cdk): the developer's shell settings must not
 * leak in, and an SDK call a test forgot to stub fails at once on a closed loopback port
 * instead of reaching a real AWS account.
 */
import { scrubDeveloperEnv } from './test-env.js';

scrubDeveloperEnv();
process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'lifeboatunit';
process.env.AWS_SECRET_ACCESS_KEY = 'lifeboatunit';
// Port 9 (discard) on loopback: nothing listens there, so the connection is refused.
process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9';
