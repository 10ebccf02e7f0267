// The construct library's entry point: re-exports only, and never handler code.
export * from './lifeboat.js';
export { ProtectionPolicyError } from './private/policy.js';
export * from './protected-service.js';
export * from './protection-policy.js';
