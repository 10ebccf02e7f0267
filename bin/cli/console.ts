/**
 * `lifeboat console`: the web console against a deployed table and bucket, with the
 * caller's AWS credentials, on 127.0.0.1. Read-only unless `--allow-actions`.
 */
import type { Command } from 'commander';
import { TableConsoleBackend } from '../../lambdas/console/backend.js';
import { serveConsole } from '../../lambdas/console/server.js';
import { storeUrlFromEnv } from '../../lambdas/contract/environment.js';
import { UsageError } from '../../lambdas/domain/errors.js';
import { assertServiceName } from '../../lambdas/domain/ids.js';
import { type CliIO, cliRuntime, storeUrl, tableName } from './context.js';
import { type CommandResult, positiveNumber } from './options.js';
import { say } from './output.js';

interface ConsoleFlags {
  table?: string;
  store?: string;
  service?: string[];
  host: string;
  port: number;
  allowActions?: boolean;
  poll: number;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(`--port must be a port number (0-65535; 0 picks a free one), not ${JSON.stringify(value)}`);
  return n;
}

export function registerConsole(program: Command, io: CliIO, _done: (r: CommandResult) => void): void {
  program
    .command('console')
    .description(
      'serve the web console (services, primaries, failovers, snapshots, retention, drills, schedules) on 127.0.0.1; read-only unless --allow-actions',
    )
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path, for retention reasons (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--service <name...>', 'only these services (default: every protected service in the table)')
    .option('--host <address>', "address to listen on; anything but loopback exposes your AWS credentials' view to the network", '127.0.0.1')
    .option('--port <n>', 'port (0: a free one)', portNumber, 7780)
    .option('--allow-actions', 'enable "snapshot now" and "drill now" (each behind a confirmation)')
    .option('--poll <seconds>', 'how often the page refreshes', positiveNumber('--poll'), 2)
    .action(async (flags: ConsoleFlags) => {
      const table = tableName(flags, io.env);
      // The store is optional here: without one the page shows everything but retention's reasons.
      const store = flags.store !== undefined || storeUrlFromEnv(io.env) ? storeUrl(flags, io.env) : undefined;
      const services = flags.service?.map((s) => assertServiceName(s));
      const backend = new TableConsoleBackend({
        runtime: cliRuntime(flags, io),
        label: `table ${table}${store ? `, store ${store}` : ''}`,
        retention: store !== undefined,
        ...(services ? { services } : {}),
      });
      const served = await serveConsole({ backend, allowActions: flags.allowActions ?? false, host: flags.host, port: flags.port, pollMs: flags.poll * 1000 });
      say(
        io,
        `lifeboat console: ${served.url}  (${backend.label}; ${flags.allowActions ? 'actions enabled, each behind a confirmation' : 'read-only'}; Ctrl-C stops)`,
      );
      if (!store) say(io, 'lifeboat console: no --store given: retention keep/delete reasons are not shown');
      io.stdout.write(`${served.url}\n`);
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) return resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await served.close();
    });
}
