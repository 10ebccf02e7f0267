/**
 * Runs user hook commands (`--pre`, `--post`, later promote/demote/verify) through the
 * shell, with a timeout, and keeps the tail of their output for error messages.
 */
import { spawn } from 'node:child_process';
import { HookFailedError } from '../domain/errors.js';

export interface HookResult {
  exitCode: number;
  /** The tail of the combined output, at most maxOutputBytes. */
  output: string;
  /** Bytes the command printed in all; more than `output` holds when the head was cut. */
  outputBytes: number;
  durationMs: number;
}

export interface HookOptions {
  /** Shown in messages, e.g. "pre-snapshot hook". */
  name: string;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /** How much of the combined stdout/stderr to keep (the tail). */
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

export const DEFAULT_HOOK_TIMEOUT_MS = 10 * 60 * 1000;

/** Runs `command` with /bin/sh; resolves with the result whatever the exit code. */
export function runCommand(command: string, options: HookOptions): Promise<HookResult> {
  const started = Date.now();
  const maxBytes = options.maxOutputBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group, so a timeout kills the hook's children too.
      detached: true,
    });
    const chunks: Buffer[] = [];
    let kept = 0;
    let total = 0;
    const keep = (chunk: Buffer) => {
      chunks.push(chunk);
      kept += chunk.length;
      total += chunk.length;
      // Drop whole chunks only while what remains still covers the tail we keep.
      while (chunks.length > 1 && kept - chunks[0]!.length >= maxBytes) kept -= chunks.shift()!.length;
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let killedBy: string | undefined;
    const kill = (why: string) => {
      killedBy ??= why;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(
      () => kill(`timed out after ${Math.round((options.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS) / 1000)} s`),
      options.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS,
    );
    const onAbort = () => kill('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new HookFailedError(`${options.name} could not start: ${err.message}`, ''));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      let output = Buffer.concat(chunks).toString('utf8');
      if (output.length > maxBytes) output = output.slice(-maxBytes);
      const exitCode = killedBy ? 124 : (code ?? (signal ? 128 : 1));
      resolve({ exitCode, output: killedBy ? `${output}\n[${killedBy}]` : output, outputBytes: total, durationMs: Date.now() - started });
    });
  });
}

/** Runs a hook and throws HookFailedError (with its output) unless it exits 0. */
export async function runHook(command: string, options: HookOptions): Promise<HookResult> {
  const result = await runCommand(command, options);
  if (result.exitCode !== 0) {
    const tail = result.output.trim();
    throw new HookFailedError(
      `${options.name} \`${command}\` failed with exit code ${result.exitCode}${tail ? `; its output:\n${indent(tail)}` : ' and printed nothing'}`,
      result.output,
    );
  }
  return result;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  | ${l}`)
    .join('\n');
}
