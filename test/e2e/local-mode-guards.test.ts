/**
 * Local mode never hangs and never leaves anything running: start-up failures stop what was
 * started and exit with one clear line; SIGKILL of `lifeboat local` takes its whole tree
 * with it; a second run on the same state directory is refused, naming the first; a run
 * after a crash takes the directory over.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitOf, spawnCli, waitFor } from '../support/cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-guards-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('lifeboat local: start-up failures', () => {
  it('GIVEN no java on PATH WHEN it starts THEN it exits 3 with one line and a hint, no stack, and nothing listening', async () => {
    // A PATH with what the CLI needs (sh, setpriv) but no java.
    const bin = join(scratch, 'nojava-bin');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['sh', 'setpriv']) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
    const child = spawnCli(['local', '--ephemeral', '--no-ui'], { CI: 'true', PATH: bin });
    const exit = await exitOf(child, 60_000);
    const err = child.output().stderr;
    expect(exit, err).toEqual({ code: 3, signal: null });
    expect(err).toMatch(/lifeboat: error: cannot start DynamoDB Local: `java` is not installed/);
    expect(err).toMatch(/hint: apt-get install -y default-jre-headless/);
    expect(err).not.toMatch(/\n\s+at /);
  }, 90_000);

  it.each([
    ['a path under /proc', () => '/proc/nope/state', /state directory \/proc\/nope\/state cannot be used/],
    [
      'a file',
      () => {
        const file = join(scratch, 'a-file');
        writeFileSync(file, 'not a directory');
        return join(file, 'state');
      },
      /is a file, not a directory/,
    ],
  ])(
    'GIVEN --state-dir on %s WHEN it starts THEN it exits 2 at once with one clear line',
    async (_what, dir, message) => {
      const child = spawnCli(['local', '--no-ui', '--state-dir', dir()], { CI: 'true' });
      const exit = await exitOf(child, 30_000);
      const err = child.output().stderr;
      expect(exit, err).toEqual({ code: 2, signal: null });
      expect(err).toMatch(message);
      expect(err).toMatch(/hint: choose a writable --state-dir/);
      expect(err).not.toMatch(/unexpected error|\n\s+at /);
    },
    60_000,
  );
});

describe('lifeboat local: one run per state directory, nothing left after a crash', () => {
  it('GIVEN a running `lifeboat local` WHEN a second starts on its state directory THEN the second exits 2 naming the first; WHEN the first is SIGKILLed THEN its whole process tree dies and a new run takes the directory over', async () => {
    const stateDir = join(scratch, 'state');
    const first = spawnCli(['local', '--no-ui', '--replicas', '2', '--state-dir', stateDir], { CI: 'true' });
    let third: ReturnType<typeof spawnCli> | undefined;
    try {
      const api = await waitFor(async () => /local API: (http:\/\/127\.0\.0\.1:\d+)/.exec(first.output().stderr)?.[1], 'the local API', 120_000);
      await waitFor(
        async () => {
          const s = (await (await fetch(`${api}/status`)).json()) as { lease?: unknown; members: { pid?: number }[] };
          return s.lease && s.members.filter((m) => m.pid).length === 2 ? s : undefined;
        },
        'a primary and two running tasks',
        120_000,
      );

      const second = spawnCli(['local', '--no-ui', '--state-dir', stateDir], { CI: 'true' });
      const secondExit = await exitOf(second, 30_000);
      expect(secondExit, second.output().stderr).toEqual({ code: 2, signal: null });
      expect(second.output().stderr).toContain(`is in use by lifeboat local (pid ${first.pid}`);
      // The first run is unharmed: its API still answers with a primary.
      const after = (await (await fetch(`${api}/status`)).json()) as { lease?: unknown };
      expect(after.lease).toBeDefined();

      const tree = descendants(first.pid!);
      expect(tree.length).toBeGreaterThanOrEqual(5); // DynamoDB Local, 2 agents, 2 servers (and their wrappers)
      first.kill('SIGKILL');
      await exitOf(first, 10_000);
      await waitFor(
        async () => (tree.filter(alive).length === 0 ? true : undefined),
        `every process of the killed run to die (left: ${tree.filter(alive).join(', ')})`,
        20_000,
      );

      third = spawnCli(['local', '--no-ui', '--replicas', '1', '--state-dir', stateDir], { CI: 'true' });
      await waitFor(async () => /local API: (http:\/\/127\.0\.0\.1:\d+)/.exec(third!.output().stderr)?.[1], 'the next run to start', 120_000);
      third.kill('SIGINT');
      expect(await exitOf(third, 60_000), third.output().stderr).toEqual({ code: 0, signal: null });
    } finally {
      for (const c of [first, third]) if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }, 360_000);
});

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    return false;
  }
}

/** Every live descendant of `root` (Linux /proc), found through parent pids. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [pid, pp] of parent) {
      if (pp !== p) continue;
      out.push(pid);
      queue.push(pid);
    }
  }
  return out;
}
