/**
 * The `lifeboat` command line: builds the commander program, runs one command, and maps
 * every outcome to an exit code: 0 success, 1 failed, 2 usage error, 3 store or catalog
 * unreachable, 4 the local environment refused (disk full, permission denied, read-only file
 * system; errors.ts EnvironmentError). Runs in-process for tests (`runCli`) and from
 * bin/lifeboat.ts. The subcommands import what they share from options.ts, never this file
 * (no import cycle).
 */
import { Command, CommanderError } from 'commander';
import { asEnvironmentError, EnvironmentError, type ExitCode, isLifeboatError } from '../../lambdas/domain/errors.js';
import { registerAgent } from './agent.js';
import { registerCatalog } from './catalog.js';
import { registerCheck } from './check.js';
import { registerConsole } from './console.js';
import type { CliIO } from './context.js';
import { registerDiff } from './diff.js';
import { registerDrill } from './drill.js';
import { registerDrillAgent } from './drill-agent.js';
import { registerFind } from './find.js';
import { registerGc } from './gc.js';
import { registerInit } from './init.js';
import { registerLocal } from './local.js';
import { registerLs } from './ls.js';
import { type CommandResult, VERSION } from './options.js';
import { registerReport } from './report.js';
import { registerRestore } from './restore.js';
import { registerRetention } from './retention.js';
import { registerRole } from './role.js';
import { registerService } from './service.js';
import { registerSnapshot } from './snapshot.js';
import { registerSnapshots } from './snapshots.js';
import { registerStatus } from './status.js';

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes('--json');
}

export async function runCli(argv: readonly string[], io: CliIO): Promise<ExitCode | number> {
  let result: CommandResult = { exitCode: 0 };
  const done = (r: CommandResult) => {
    result = r;
  };
  const program = new Command()
    .name('lifeboat')
    .description('Snapshots, restores, the catalog, the primary role and restore drills for stateful services on Amazon ECS.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // Commander's own errors (unknown option, missing argument) look like ours.
      outputError: (s, write) => write(s.replace(/^error: /, 'lifeboat: error: ')),
    });
  registerSnapshot(program, io, done);
  registerRestore(program, io, done);
  registerSnapshots(program, io, done);
  registerInit(program, io, done);
  registerCatalog(program, io, done);
  registerRetention(program, io, done);
  registerGc(program, io, done);
  registerCheck(program, io, done);
  registerDrill(program, io, done);
  registerReport(program, io, done);
  registerDrillAgent(program, io, done);
  registerAgent(program, io, done);
  registerRole(program, io, done);
  registerLocal(program, io, done);
  registerStatus(program, io, done);
  registerService(program, io, done);
  registerLs(program, io, done);
  registerDiff(program, io, done);
  registerFind(program, io, done);
  registerConsole(program, io, done);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
    return result.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end up here too, with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (isLifeboatError(err)) {
      io.stderr.write(`lifeboat: error: ${err.message}\n`);
      if (err.hint) io.stderr.write(`  hint: ${err.hint}\n`);
      if (wantsJson(argv)) {
        io.stdout.write(`${JSON.stringify({ error: { type: err.name, message: err.message, hint: err.hint, exitCode: err.exitCode } }, null, 2)}\n`);
      }
      return err.exitCode;
    }
    // A system error the environment caused (ENOSPC, EACCES, EROFS, ...) that no command
    // translated: still a plain message and exit 4, not a stack trace.
    const env = asEnvironmentError(err, `lifeboat ${argv.find((a) => !a.startsWith('-')) ?? ''}`.trim());
    if (env instanceof EnvironmentError) {
      io.stderr.write(`lifeboat: error: ${env.message}\n`);
      if (env.hint) io.stderr.write(`  hint: ${env.hint}\n`);
      if (wantsJson(argv)) {
        io.stdout.write(`${JSON.stringify({ error: { type: env.name, message: env.message, hint: env.hint, exitCode: env.exitCode } }, null, 2)}\n`);
      }
      return env.exitCode;
    }
    // Anything else is a bug or an environment fault we did not anticipate: say so plainly.
    const e = err as Error;
    io.stderr.write(`lifeboat: unexpected error: ${e?.stack ?? String(err)}\n`);
    if (wantsJson(argv))
      io.stdout.write(`${JSON.stringify({ error: { type: e?.name ?? 'Error', message: e?.message ?? String(err), exitCode: 1 } }, null, 2)}\n`);
    return 1;
  }
}
