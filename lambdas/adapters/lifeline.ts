/**
 * A child that must not outlive its parent: started through util-linux `setpriv --pdeathsig
 * SIGKILL`, the kernel kills it the moment the process that started it dies, however that
 * dies (SIGKILL included). Linux only; elsewhere the command is returned unchanged.
 */
import { spawnSync } from 'node:child_process';

let prefix: string[] | undefined;

/** `command` prefixed so that it dies with the process that starts it. */
export function withLifeline(command: readonly string[]): string[] {
  if (prefix === undefined) {
    const probe = process.platform === 'linux' ? spawnSync('setpriv', ['--help'], { encoding: 'utf8' }) : undefined;
    prefix = probe?.status === 0 && probe.stdout.includes('--pdeathsig') ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : [];
  }
  return [...prefix, ...command];
}
