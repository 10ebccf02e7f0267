/**
 * `lifeboat drill` and `lifeboat report` as a user or CI runs them (in-process, real
 * DynamoDB Local, ECS mocked): what goes to stdout and stderr, and the exit codes.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RunTaskCommand } from '@aws-sdk/client-ecs';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../lambdas/adapters/aws.js';
import { DynamoDrillStore } from '../../lambdas/adapters/drill-store.js';
import { DynamoServiceRegistry } from '../../lambdas/adapters/service-registry.js';
import { finalizeDrill } from '../../lambdas/control/drills/finalize.js';
import type { DrillRecord } from '../../lambdas/domain/drills.js';
import { normalizeServicePolicy } from '../../lambdas/domain/service-policy.js';
import { freePort } from '../../lambdas/local/embedded-services.js';
import { cli, waitFor } from '../support/cli.js';
import { type DrillEnv, drillEnv, ecsMock, mockRunTask, nextTaskArn, policyInput, protect, taskEvent } from '../support/drill-env.js';
import { fixtureDrill, fixturesAt } from '../support/drill-fixtures.js';
import { freshTable, tempDir } from '../support/fixtures.js';

let env: DrillEnv;
let work: { path: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  [env, work] = await Promise.all([drillEnv(), tempDir('lifeboat-drill-cli')]);
  await protect(env, 'db');
  await env.snapshot('db');
  // `lifeboat drill` runs on the real clock; the finalizer below uses it too.
  env.clock.set(new Date());
});
afterAll(async () => {
  await work.cleanup();
  await env.cleanup();
});
beforeEach(() => ecsMock.reset());

const cliEnv = () => ({ LIFEBOAT_TABLE: env.table });

/** Finds the running drill whose task is `taskArn` (started by the CLI under test). */
async function drillOfTask(taskArn: string): Promise<DrillRecord> {
  return waitFor(async () => {
    for await (const d of env.drills.list('db', { running: true })) if (d.taskArn === taskArn) return d;
    return undefined;
  }, `the drill of ${taskArn}`);
}

describe('lifeboat drill', () => {
  it('starts a drill: the id on stdout, what happened on stderr, exit 0', async () => {
    const taskArn = mockRunTask();
    const r = await cli(['drill', '--service', 'db'], cliEnv());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^drill-\d{8}T\d{6}Z-[0-9a-f]{8}\n$/);
    expect(r.stderr).toMatch(new RegExp(`drill ${r.stdout.trim()} of db started: snapshot \\S+ \\(newest complete snapshot\\), task ${taskArn}, deadline `));
    expect(ecsMock).toHaveReceivedCommandTimes(RunTaskCommand, 1);
  });

  it('--json prints one document', async () => {
    mockRunTask();
    const r = await cli(['drill', '--service', 'db', '--json'], cliEnv());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      service: 'db',
      status: 'running',
      verdict: 'running',
      outcome: 'launched',
      selection: 'latest',
      rpoSeconds: expect.any(Number),
    });
  });

  it.each([
    ['passed', 0, 0, 'passed', /passed: ok/],
    ['failed', 1, 1, 'failed', /failed: verify command `x` exited with code 1/],
    [undefined, 1, 3, 'error', /error: the drill task exited with code 1 without recording a result/],
  ] as const)('--wait exits with the verdict: agent %s, container exit %d → exit %d', async (agentOutcome, containerExit, expected, status, message) => {
    const taskArn = nextTaskArn();
    mockRunTask(taskArn);
    const running = cli(['drill', '--service', 'db', '--wait', '--poll', '0.02'], cliEnv());
    // Play the drill task and its STOPPED event while the CLI waits.
    const drill = await drillOfTask(taskArn);
    if (agentOutcome) {
      const now = new Date().toISOString();
      await env.drills.recordAgentResult('db', drill.drillId, {
        outcome: agentOutcome,
        reason: agentOutcome === 'passed' ? 'ok' : 'verify command `x` exited with code 1',
        startedAt: now,
        reportedAt: now,
        ...(agentOutcome === 'passed' ? { readyAt: now } : {}),
        checks: [],
      });
    }
    expect((await finalizeDrill(env, taskEvent(drill, { exitCode: containerExit }))).outcome).toBe('finalized');
    const r = await running;
    expect(r.code).toBe(expected);
    expect(r.stdout).toBe(`${drill.drillId}\n`);
    expect(r.stderr).toMatch(new RegExp(`drill ${drill.drillId} ${status}`));
    expect(r.stderr).toMatch(message);
  });

  it('--at drills the newest snapshot taken at or before the time and says how old it was then', async () => {
    const second = await env.snapshot('db', { 'hello.txt': 'second\n' });
    mockRunTask();
    const at = new Date(Date.parse(second.createdAt) - 1).toISOString();
    const r = await cli(['drill', '--service', 'db', '--at', at, '--json'], cliEnv());
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { snapshotId: string };
    expect(doc.snapshotId).not.toBe(second.id);
    expect(r.stderr).toMatch(new RegExp(`--at ${at} \\(${at}, \\S+\\): snapshot ${doc.snapshotId} taken \\S+, .* before that time`));
    const early = await cli(['drill', '--service', 'db', '--at', '2020-01-01T00:00:00Z'], cliEnv());
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/--at "2020-01-01T00:00:00Z" \(2020-01-01T00:00:00.000Z\) is before the oldest complete snapshot of db, \S+ taken /);
    const both = await cli(['drill', '--service', 'db', '--at', '2h', '--snapshot', second.id], cliEnv());
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--at and --snapshot \S+ both pick a snapshot/);
  });

  it('--keep asks the drill task to stay up and prints how to reach it; a bad duration is refused by name', async () => {
    const taskArn = mockRunTask();
    const r = await cli(['drill', '--service', 'db', '--keep', '30m', '--json'], cliEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ keep: { seconds: 1800 } });
    const taskId = taskArn.split('/').pop();
    expect(r.stderr).toMatch(/the task stays up 30.0 min after the verdict/);
    expect(r.stderr).toContain(`aws ecs execute-command --cluster prod --task ${taskId} --container `);
    const input = ecsMock.commandCalls(RunTaskCommand)[0]!.args[0].input;
    expect(input.overrides?.containerOverrides?.[0]?.environment).toContainEqual({ name: 'LIFEBOAT_DRILL_KEEP_SECONDS', value: '1800' });
    const plain = await cli(['drill', '--service', 'db', '--keep', '--json'], cliEnv());
    expect(JSON.parse(plain.stdout)).toMatchObject({ keep: { seconds: 3600 } });
    const bad = await cli(['drill', '--service', 'db', '--keep', '90'], cliEnv());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--keep must be a duration with a unit like 90s, 10m, 2h or 1d, not "90"/);
    const long = await cli(['drill', '--service', 'db', '--keep', '30d'], cliEnv());
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/--keep 30.0 d is not between 1 s and 7 days/);
  });

  it('exits 3 when ECS refuses the task, and 2 for a service that is not protected', async () => {
    ecsMock.on(RunTaskCommand).rejects(Object.assign(new Error('No Container Instances were found in your cluster.'), { name: 'InvalidParameterException' }));
    const r = await cli(['drill', '--service', 'db'], cliEnv());
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/could not start: the drill task could not be launched: RunTask on prod was refused: InvalidParameterException/);
    const unknown = await cli(['drill', '--service', 'nope'], cliEnv());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/lifeboat: error: service nope is not protected by Lifeboat/);
  });
});

describe('lifeboat report', () => {
  /** A table holding the given services and drill records. */
  async function tableWith(services: { service: string; drills: DrillRecord[] }[]): Promise<string> {
    const table = await freshTable();
    const dynamo = createDynamoClient();
    const registry = new DynamoServiceRegistry(dynamo, table);
    const drills = new DynamoDrillStore(dynamo, table);
    for (const s of services) {
      await registry.put(normalizeServicePolicy(policyInput(s.service, { targets: { rtoSeconds: 600, rpoSeconds: 14_400 } })));
      for (const d of s.drills) expect(await drills.create(d)).toBe('created');
    }
    return table;
  }
  const now = () => new Date();
  let passing: string;
  let mixed: string;

  beforeAll(async () => {
    [passing, mixed] = await Promise.all([
      tableWith(
        fixturesAt(now(), () => [
          { service: 'db', drills: [fixtureDrill('db', 30), fixtureDrill('db', 5)] },
          { service: 'wiki', drills: [fixtureDrill('wiki', 2)] },
        ]),
      ),
      tableWith(
        fixturesAt(now(), () => [
          { service: 'db', drills: [fixtureDrill('db', 5)] },
          {
            service: 'wiki',
            drills: [fixtureDrill('wiki', 3, { status: 'failed', reason: 'verify command `check` exited with code 2', withinTargets: false })],
          },
        ]),
      ),
    ]);
  });

  it('exits 0 when every service has a passing drill within max-age and targets; Markdown by default', async () => {
    const r = await cli(['report', '--max-age', '26h'], { LIFEBOAT_TABLE: passing });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^## ✅ Lifeboat restore drills: all services proven restorable\n/);
    expect(r.stdout).toContain('| db | ✅ pass |');
    expect(r.stderr).toBe('drill report: pass (2 of 2 services passing)\n');
  });

  it('exits 1 when a passing drill is older than --max-age', async () => {
    const r = await cli(['report', '--max-age', '4h'], { LIFEBOAT_TABLE: passing });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('drill report: fail (1 of 2 services passing: db stale)\n');
  });

  it('exits 1 when a drill failed; --format junit --out writes the file and nothing to stdout', async () => {
    const out = join(work.path, 'drills.junit.xml');
    const r = await cli(['report', '--format', 'junit', '--out', out, '--max-age', '26h'], { LIFEBOAT_TABLE: mixed });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/wrote the junit report to .*drills\.junit\.xml\ndrill report: fail \(1 of 2 services passing: wiki fail\)/);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(await readFile(out, 'utf8'));
    expect(doc.testsuites).toMatchObject({ tests: '2', failures: '1', errors: '0' });
  });

  it('--service narrows the report; --json and --format html print one document', async () => {
    const json = await cli(['report', '--service', 'db', '--json'], { LIFEBOAT_TABLE: mixed });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ schema: 'lifeboat.drill-report/v1', exitCode: 0, services: [{ service: 'db', verdict: 'pass' }] });
    const html = await cli(['report', '--format', 'html'], { LIFEBOAT_TABLE: mixed });
    expect(html.code).toBe(1);
    expect(html.stdout).toMatch(/^<!doctype html>/);
  });

  it('exits 3 when it could not evaluate: drills that could not run, no services, or no table', async () => {
    const errors = await tableWith(
      fixturesAt(now(), () => [
        { service: 'db', drills: [fixtureDrill('db', 1, { status: 'error', reason: 'the drill task failed to start', withinTargets: false })] },
      ]),
    );
    const r = await cli(['report'], { LIFEBOAT_TABLE: errors });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/drill report: error \(0 of 1 services passing: db could not run\)/);

    const empty = await cli(['report'], { LIFEBOAT_TABLE: await freshTable() });
    expect(empty.code).toBe(3);
    expect(empty.stderr).toMatch(/no protected services/);

    const missing = await cli(['report'], { LIFEBOAT_TABLE: 'no-such-table' });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/lifeboat: error: table no-such-table does not exist/);

    const unreachable = await cli(['report', '--json'], {
      LIFEBOAT_TABLE: passing,
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${await freePort()}`,
      AWS_MAX_ATTEMPTS: '1',
    });
    expect(unreachable.code).toBe(3);
    expect(JSON.parse(unreachable.stdout)).toMatchObject({ error: { type: 'UnavailableError', exitCode: 3 } });
  });

  it('runs every `lifeboat report` line of the example GitHub Actions workflow as written', async () => {
    const workflow = await readFile(new URL('../../examples/github-actions/restore-drills.yml', import.meta.url), 'utf8');
    const lines = workflow
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('lifeboat report'));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) {
      const argv = line
        .replace(/\s*>>.*$/, '')
        .replace(/"\$MAX_AGE"/g, '26h')
        .split(/\s+/)
        .slice(1)
        .map((a) => (a.endsWith('.xml') || a.endsWith('.html') ? join(work.path, a) : a));
      const r = await cli(argv, { LIFEBOAT_TABLE: passing });
      expect(r.code, line).toBe(0);
    }
    expect(new XMLParser().parse(await readFile(join(work.path, 'drills.junit.xml'), 'utf8')).testsuites).toBeDefined();
  });

  it('exits 2 for bad input', async () => {
    for (const argv of [
      ['report', '--max-age', 'soon'],
      ['report', '--format', 'pdf'],
      ['report', '--service', 'nope'],
      ['report', '--out', join(work.path, 'no-such-dir', 'r.md')],
    ]) {
      const r = await cli(argv, { LIFEBOAT_TABLE: passing });
      expect(r.code, argv.join(' ')).toBe(2);
    }
    // A missing --out directory is named as such, not as the temporary file it would have written.
    const missing = join(work.path, 'no-such-dir');
    const r = await cli(['report', '--out', join(missing, 'r.md')], { LIFEBOAT_TABLE: passing });
    expect(r.stderr).toContain(`cannot write the report to ${join(missing, 'r.md')}: the directory ${missing} does not exist`);
    expect(r.stderr).toContain(`hint: create it first (mkdir -p ${missing})`);
    expect(r.stderr).not.toMatch(/\.tmp/);
  });
});
