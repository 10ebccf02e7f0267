/**
 * Error classes shared by the agent, the CLI, local mode and the Lambdas.
 *
 * The exit code travels with the error so every entry point maps failures the same way:
 * 1 = the operation ran and failed (bad checksum, failing hook), 2 = the caller asked for
 * something impossible (usage), 3 = the store or catalog could not be reached, so nothing
 * could be evaluated. "Failed" and "could not run" stay apart on purpose: CI treats them
 * differently.
 */
export type ExitCode = 0 | 1 | 2 | 3;

export abstract class LifeboatError extends Error {
  abstract readonly exitCode: ExitCode;
  /** One line that tells the user how to fix it, when we know. */
  readonly hint: string | undefined;

  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options?.hint;
  }
}

/** The caller's input is wrong: a flag, a path, an id. Nothing was changed. */
export class UsageError extends LifeboatError {
  readonly exitCode = 2 as const;
}

/** A snapshot id that the catalog does not know. */
export class SnapshotNotFoundError extends LifeboatError {
  readonly exitCode = 2 as const;
}

/** Data read back does not match what was written: checksum, size, or structure. */
export class IntegrityError extends LifeboatError {
  readonly exitCode = 1 as const;
}

/** The operation ran and did not succeed (no snapshot to restore, a lost race, ...). */
export class OperationFailedError extends LifeboatError {
  readonly exitCode = 1 as const;
}

/** A user hook command exited non-zero or timed out. */
export class HookFailedError extends LifeboatError {
  readonly exitCode = 1 as const;
  constructor(
    message: string,
    readonly output: string,
    options?: { hint?: string; cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The object store or the catalog could not be reached or is not set up. */
export class UnavailableError extends LifeboatError {
  readonly exitCode = 3 as const;
}

/** The operation was interrupted by a signal or an abort; partial work was cleaned up. */
export class AbortedError extends LifeboatError {
  readonly exitCode = 1 as const;
}

export function isLifeboatError(err: unknown): err is LifeboatError {
  return err instanceof LifeboatError;
}

/**
 * A retention policy that cannot be applied: malformed, empty, or one that would delete
 * every snapshot. Nothing is deleted; the message names the policy and the hint the fix.
 */
export class RetentionPolicyError extends UsageError {}
