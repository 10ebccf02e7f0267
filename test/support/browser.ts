/**
 * A real headless Chromium (Debian's `chromium`, driven by playwright-core) for the
 * console's browser tests. No browser is downloaded: .ci/run installs the Debian package.
 *
 * The test starts Chromium itself, in its own process group with a fresh profile, on a
 * DevTools port the kernel picks (`--remote-debugging-port=0`, so no port race), reads the
 * address Chromium prints once it listens, and connects over CDP. `close()` stops it by its
 * PID (the whole group: renderers, GPU and zygote processes too), waits until the group is
 * gone, and removes the profile.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = process.env.LIFEBOAT_CHROMIUM ?? '/usr/bin/chromium';

// Without the background-networking flags Chromium keeps trying to reach Google's hosts,
// which a closed network refuses many times a second.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-breakpad',
  '--remote-debugging-port=0',
  '--remote-debugging-address=127.0.0.1',
];

export interface TestBrowser {
  context: BrowserContext;
  /** Chromium's process id (the leader of its process group). */
  pid: number;
  /** The DevTools endpoint, on the port the kernel gave Chromium. */
  endpoint: string;
  close: () => Promise<void>;
}

/** True while any process of the group `pid` leads is alive. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Resolves with the DevTools WebSocket URL once Chromium prints it; rejects if it exits or takes longer than `timeoutMs`. */
function devToolsEndpoint(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const done = (err?: Error, url?: string) => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(url!);
    };
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-8192);
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(output);
      if (m) done(undefined, m[1]);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      done(new Error(`Chromium (${CHROMIUM}) exited (${signal ?? `code ${code}`}) before listening for DevTools:\n${output.trim()}`));
    const timer = setTimeout(
      () => done(new Error(`Chromium (${CHROMIUM}) did not listen for DevTools within ${timeoutMs / 1000} s:\n${output.trim()}`)),
      timeoutMs,
    );
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Stops the process group `pid` leads: SIGTERM, then SIGKILL after `graceMs`; resolves once the whole group is gone. */
async function stopGroup(child: ChildProcess, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      // The group is already gone.
    }
  };
  signal('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), graceMs);
  });
  if ((await Promise.race([exited, graceOver])) === 'late') signal('SIGKILL');
  clearTimeout(timer);
  await exited;
  // The leader has exited; its helpers (renderers, zygote) follow within moments. Any still
  // there get SIGKILL, and the group must be gone before the deadline.
  if (groupAlive(pid)) signal('SIGKILL');
  const deadline = Date.now() + graceMs;
  while (groupAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`Chromium's process group ${pid} is still alive ${graceMs / 1000} s after SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function launchBrowser(options: { startTimeoutMs?: number } = {}): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (sudo apt-get install chromium; .ci/run does), or point LIFEBOAT_CHROMIUM at one`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'lifeboat-chromium-'));
  const child = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'], {
    detached: true, // its own process group, stopped as one by its PID
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close().catch(() => undefined);
    await stopGroup(child, 5_000);
    await rm(profile, { recursive: true, force: true });
  };
  try {
    if (child.pid === undefined) throw new Error(`could not start Chromium (${CHROMIUM})`);
    const endpoint = await devToolsEndpoint(child, options.startTimeoutMs ?? 60_000);
    // Chromium keeps writing to stderr (GPU and D-Bus notices); drain it so it never blocks.
    child.stderr?.resume();
    browser = await chromium.connectOverCDP(endpoint);
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    return { context, pid: child.pid, endpoint, close };
  } catch (err) {
    await close();
    throw err;
  }
}
