/**
 * Runs the CLI in-process (fast, for exit codes and messages) or as a real child process
 * from the TypeScript source (for signals and crashes).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../bin/cli/program.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(argv: string[], env: Record<string, string | undefined> = {}, signal?: AbortSignal): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (b: Buffer) => (out += b.toString()));
  stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await runCli(argv, { stdout, stderr, env: { ...process.env, ...env }, signal: signal ?? new AbortController().signal });
  return { code, stdout: out, stderr: err };
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Starts `lifeboat ARGS` as a child process, the way a user or an entrypoint would. */
export function spawnCli(argv: string[], env: Record<string, string | undefined> = {}): ChildProcess & { output: () => { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/lifeboat.ts', ...argv], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  return Object.assign(child, { output: () => ({ stdout, stderr }) });
}

/** How `child` exited; with `timeoutMs`, a child still running then is a failure (it hangs). */
export async function exitOf(child: ChildProcess, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  return new Promise((resolve, reject) => {
    const timer =
      timeoutMs === undefined ? undefined : setTimeout(() => reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Polls `check` until it returns a value, without fixed sleeps dictating the outcome. */
export async function waitFor<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
