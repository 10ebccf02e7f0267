/** `lifeboat ls SNAPSHOT [PATH]`: what a snapshot holds, from its manifest only. */
import type { Command } from 'commander';
import { loadManifestView, parseSnapshotRef, resolveSnapshotRef } from '../../lambdas/control/snapshot-inspect.js';
import { type ListingEntry, listEntries, modeString } from '../../lambdas/domain/snapshot-listing.js';
import { type CliIO, openCatalog, openObjectStore, serviceName } from './context.js';
import type { CommandResult } from './options.js';
import { formatBytes } from './output.js';

interface LsFlags {
  service?: string;
  long?: boolean;
  recursive?: boolean;
  table?: string;
  store?: string;
  json?: boolean;
}

export function entryJson(e: ListingEntry) {
  return {
    path: e.path,
    type: e.type,
    mode: `0${e.mode.toString(8).padStart(3, '0')}`,
    size: e.size,
    mtime: new Date(e.mtimeMs).toISOString(),
    ...(e.sha256 ? { sha256: e.sha256 } : {}),
    ...(e.target !== undefined ? { target: e.target } : {}),
  };
}

export function registerLs(program: Command, io: CliIO, _done: (r: CommandResult) => void): void {
  program
    .command('ls')
    .description('list the paths in a snapshot (type, mode, size, mtime), from its manifest; nothing is downloaded but the manifest')
    .argument('<snapshot>', 'snapshot id, "latest", or SERVICE/ID')
    .argument('[path]', 'only this path and what is under it')
    .option('--service <name>', 'protected service name (env LIFEBOAT_SERVICE)')
    .option('-l, --long', 'mode, size and mtime of each path')
    .option('--no-recursive', 'only the path and its direct children')
    .option('--table <name>', 'catalog table (env LIFEBOAT_TABLE)')
    .option('--store <url>', 's3://bucket/prefix or file:///path (env LIFEBOAT_STORE or LIFEBOAT_BUCKET)')
    .option('--json', 'print one JSON document')
    .action(async (snapshot: string, path: string | undefined, flags: LsFlags) => {
      const ref = parseSnapshotRef(snapshot, serviceName(flags.service, io.env));
      const record = await resolveSnapshotRef(openCatalog(flags, io), ref);
      const view = await loadManifestView(openObjectStore(flags, io), record);
      const entries = listEntries(view, path, { recursive: flags.recursive });
      if (flags.json) {
        io.stdout.write(
          `${JSON.stringify({ service: view.service, snapshot: view.id, createdAt: view.createdAt, entries: entries.map(entryJson) }, null, 2)}\n`,
        );
        return;
      }
      const lines: string[] = [];
      for (const e of entries) {
        const name =
          e.path === '.'
            ? '/'
            : `/${e.path}${e.type === 'dir' ? '/' : ''}${e.type === 'symlink' ? ` -> ${e.target}` : e.type === 'hardlink' ? ` => /${e.target}` : ''}`;
        lines.push(
          flags.long
            ? `${modeString(e.type, e.mode)}  ${formatBytes(e.size).padStart(9)}  ${new Date(e.mtimeMs).toISOString().slice(0, 19).replace('T', ' ')}  ${name}`
            : name,
        );
      }
      io.stdout.write(lines.length ? `${lines.join('\n')}\n` : '');
      io.stderr.write(`snapshot ${view.id} of ${view.service} (${view.createdAt}): ${entries.length} entries\n`);
    });
}
