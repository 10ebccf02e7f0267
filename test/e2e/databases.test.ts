/**
 * End to end on real engines: local mode running the postgres and sqlite examples (three
 * tasks each, a real PostgreSQL 15 server per task as the postgres user, on private socket
 * directories; SQLite through the sqlite3 shell) through the demo scenario: writes, a
 * snapshot through the recipe, kill the primary, a replica restores the newest snapshot and
 * serves the data, a drill passes with every typed check and the canary, a damaged snapshot
 * fails its drill. Retention is left to the kv scenario (it only adds snapshots here).
 *
 * Nothing is skipped: without the engine binaries, LocalMode.start fails saying what to install.
 * After stopping, no process may still name the run's state directory (its servers are gone).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalMode } from '../../lambdas/local/local-mode.js';
import { runScenario, type ScenarioResult } from '../../lambdas/local/scenario.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Processes whose command line or working directory names `needle` (Postgres works in its data directory). */
function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state === 'Z') continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        // not ours to read
      }
      if (cmd.includes(needle) || cwd.startsWith(needle)) found.push(`${entry}: ${cmd.slice(0, 200)} (in ${cwd})`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

for (const example of ['postgres', 'sqlite'] as const) {
  describe(`local mode on a real ${example}: the demo scenario`, () => {
    let mode: LocalMode | undefined;
    let result: ScenarioResult;
    let reportsDir: string;
    let stateDir = '';
    const lines: string[] = [];

    beforeAll(async () => {
      reportsDir = await mkdtemp(join(tmpdir(), `lifeboat-e2e-${example}-`));
      mode = await LocalMode.start({
        repoRoot,
        ephemeral: true,
        speed: 60,
        example,
        services: { env: inject('awsEnv') },
        table: `lifeboat-e2e-${example}-${randomBytes(4).toString('hex')}`,
        reportsDir,
      });
      stateDir = mode.stateDir;
      try {
        result = await runScenario(mode, { log: (l) => lines.push(l), writes: 10, retention: false });
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${lines.join('\n')}`);
      }
    }, 420_000);

    afterAll(async () => {
      await mode?.stop();
      if (result) await rm(reportsDir, { recursive: true, force: true });
    }, 60_000);

    it('acknowledged writes in the snapshot survive the loss of the primary: the new primary restored the newest snapshot', () => {
      expect(result.writes.inSnapshotSurvived).toBe(result.writes.inSnapshot);
      expect(result.failover.newPrimary).not.toBe(result.failover.killed);
      expect(result.failover.newTerm).toBeGreaterThan(result.primary.term);
    });

    it('the drill passes with every declared check, each with its duration and message, and proves the canary', () => {
      const d = result.passedDrill;
      expect(d.status).toBe('passed');
      const checks = d.agent!.checks;
      const declared = mode!.servicePolicy.drill.checks!;
      for (const name of ['restore', 'open', 'canary', 'integrity', ...declared.filter((c) => c.name).map((c) => c.name!)]) {
        const c = checks.find((x) => x.name === name);
        expect(c, `check ${name} in ${JSON.stringify(checks.map((x) => x.name))}`).toBeDefined();
        expect(c!.status).toBe('passed');
        expect(c!.durationSeconds).toBeGreaterThanOrEqual(0);
        expect(c!.message).toBeTruthy();
      }
      expect(d.agent!.canary!.matches).toBe(true);
      expect(d.agent!.canary!.expected.rows).toBeGreaterThanOrEqual(1);
      // The RPO is the canary's age when the drill restored the newest snapshot.
      if (d.snapshotId === d.newestSnapshotId) expect(d.rpoSource).toBe('canary');
      expect(d.rtoSeconds).toBeGreaterThan(0);
    });

    it('a damaged snapshot fails its drill, naming the damaged part', () => {
      expect(result.failedDrill.status).toBe('failed');
      expect(result.failedDrill.snapshotId).toBe(result.corrupted.snapshotId);
      // The damaged object by its name (a v2 pack id, a v1 part), and what is wrong.
      expect(result.failedDrill.reason).toContain(result.corrupted.key.slice(result.corrupted.key.lastIndexOf('/') + 1));
      expect(result.failedDrill.reason).toMatch(/corrupted/);
    });

    it('stopping local mode leaves no database process behind', async () => {
      await mode!.stop();
      expect(processesMentioning(stateDir)).toEqual([]);
    });
  });
}
