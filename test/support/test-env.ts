/** Settings from the developer's shell that would change what the tests talk to. */
export function scrubDeveloperEnv(): void {
  for (const k of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'LIFEBOAT_TABLE', 'LIFEBOAT_BUCKET', 'LIFEBOAT_STORE']) delete process.env[k];
}
