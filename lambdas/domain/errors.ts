/**
 * Error classes shared by the agent, the CLI, local mode and the Lambdas.
 *
 * The exit code travels with the error so every entry point maps failures the same way:
 * 1 = the operation ran and failed (bad checksum, failing hook), 2 = the caller asked for
 * something impossible (usage), 3 = the store or catalog could not be reached, so nothing
 * could be evaluated, 4 = the local machine refused (disk full, permission denied, read-only
 * file system): nothing is wrong with the backup. "Failed" and "could not run" stay apart on
 * purpose: CI treats them differently.
 */
export type ExitCode = 0 | 1 | 2 | 3 | 4;

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

/**
 * Another restore holds the target directory's lock. Not a broken backup: a drill that meets
 * it could not run (`error`), it did not fail.
 */
export class TargetBusyError extends OperationFailedError {}

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

/**
 * The local environment refused an operation: the disk or quota is full, a path is not
 * writable, the file system is read-only, too many files are open. Nothing is wrong with the
 * snapshot, so this is never reported as corruption, and a drill that meets it is an
 * `error` (could not run), not a failed backup.
 */
export class EnvironmentError extends LifeboatError {
  readonly exitCode = 4 as const;
  constructor(
    message: string,
    /** The system error code, e.g. ENOSPC. */
    readonly code: string,
    options?: { hint?: string; cause?: unknown },
  ) {
    super(message, options);
  }
}

const ENVIRONMENT_CODES: Readonly<Record<string, { what: string; fix: string }>> = {
  ENOSPC: { what: 'no space left on device', fix: 'free space on that file system (or give it a larger volume) and try again' },
  EDQUOT: { what: 'disk quota exceeded', fix: 'raise the quota or free space on that file system and try again' },
  EFBIG: { what: 'file too large for the file system', fix: 'use a file system that allows larger files' },
  EACCES: { what: 'permission denied', fix: 'run as a user that may write there, or fix the ownership and mode of the directory' },
  EPERM: { what: 'operation not permitted', fix: 'run as a user that may write there, or fix the ownership and mode of the directory' },
  EROFS: { what: 'read-only file system', fix: 'mount the volume read-write' },
  EMFILE: { what: 'too many open files', fix: 'raise the open file limit (ulimit -n)' },
  ENFILE: { what: 'too many open files in the system', fix: 'raise the system open file limit' },
};

/** The system error code of an error, when it is one that means "the environment refused". */
export function environmentCodeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code in ENVIRONMENT_CODES ? code : undefined;
}

/**
 * Turns a system error the environment caused (ENOSPC, EACCES, EROFS, ...) into an
 * EnvironmentError that names the path and the fix; anything else is returned as it was.
 * `action` says what was being done, e.g. "restore into /data".
 */
export function asEnvironmentError(err: unknown, action: string, extraHint?: string): unknown {
  if (err instanceof LifeboatError) return err;
  const code = environmentCodeOf(err);
  if (!code) return err;
  const e = err as { path?: unknown; dest?: unknown; syscall?: unknown };
  const path = typeof e.path === 'string' ? e.path : undefined;
  const { what, fix } = ENVIRONMENT_CODES[code]!;
  return new EnvironmentError(`${action} failed: ${what} (${code})${path ? ` at ${path}` : ''}`, code, {
    hint: extraHint ? `${fix}; ${extraHint}` : fix,
    cause: err,
  });
}

export function isLifeboatError(err: unknown): err is LifeboatError {
  return err instanceof LifeboatError;
}

/**
 * A retention policy that cannot be applied: malformed, empty, or one that would delete
 * every snapshot. Nothing is deleted; the message names the policy and the hint the fix.
 */
export class RetentionPolicyError extends UsageError {}
