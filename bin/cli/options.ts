/**
 * What the subcommands share with the program (bin/cli/program.ts): the result type of a
 * command, the version, and the flag parsers. Its own module so that program.ts imports the
 * subcommands and nothing imports program.ts back.
 */
import { InvalidArgumentError } from 'commander';
import ms from 'ms';
import type { ExitCode } from '../../lambdas/domain/errors.js';

export interface CommandResult {
  /** Lifeboat's own codes (0-3), or the wrapped application's (`lifeboat agent -- CMD`). */
  exitCode: ExitCode | number;
}

export const VERSION = '0.1.0';

export function positiveNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive number, not ${JSON.stringify(value)}`);
    return n;
  };
}

/** A duration with a unit, e.g. 90s, 10m, 2h, 1d (the `ms` package's syntax; a bare number is refused). */
export function durationMs(flag: string) {
  return (value: string): number => {
    const n = /^\s*\d+(\.\d+)?\s*[a-z]+\s*$/i.test(value) ? ms(value as ms.StringValue) : undefined;
    if (n === undefined || !Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`${flag} must be a duration with a unit like 90s, 10m, 2h or 1d, not ${JSON.stringify(value)}`);
    }
    return n;
  };
}
