/** `lifeboat init`: create the catalog table and the store when missing (outside CDK). */
import type { Command } from 'commander';
import { createDynamoBaseClient } from '../../lambdas/adapters/aws.js';
import { ensureCatalogTable } from '../../lambdas/adapters/catalog.js';
import { type CliIO, openObjectStore, tableName } from './context.js';
import type { CommandResult } from './options.js';
import { say } from './output.js';

interface InitFlags {
  table?: string;
  store?: string;
  json?: boolean;
}

export function registerInit(program: Command, io: CliIO, _done: (r: CommandResult) => void): void {
  program
    .command('init')
    .description('create the catalog table and the bucket (or directory) when missing; safe to run again')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--json', 'print one JSON document')
    .action(async (flags: InitFlags) => {
      const table = tableName(flags, io.env);
      const store = openObjectStore(flags, io);
      const tableOutcome = await ensureCatalogTable(createDynamoBaseClient(io.env), table);
      const storeOutcome = await store.ensure();
      if (flags.json) {
        io.stdout.write(`${JSON.stringify({ table: { name: table, outcome: tableOutcome }, store: { url: store.url, outcome: storeOutcome } }, null, 2)}\n`);
      }
      say(io, `table ${table}: ${tableOutcome === 'created' ? 'created' : 'already there'}`);
      say(io, `store ${store.url}: ${storeOutcome === 'created' ? 'created' : 'already there'}`);
    });
}
