// The role hooks of the database examples (examples/postgres, examples/sqlite), in plain
// JavaScript so `lifeboat agent` runs them in well under a second (its heartbeat waits for
// a role hook; a slow hook on a busy machine would cost the lease):
//
//   promote   --on-promote: write the role file (primary, LIFEBOAT_TERM) and tell the server,
//             which restores a newer snapshot first when there is one, then takes writes
//   demote    --on-demote: write the role file (replica) and tell the server
//   health    exit 0 when the server answers /health
//   ready     snapshot.pre: exit 0 only when the server is primary and done converging, so the
//             agent never snapshots a database that has not taken over yet (that snapshot
//             would be the "newest" while holding older data)
//
// Environment: KV_ROLE_FILE (else <dir>.role), KV_PORT.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const [name, command] = [process.argv[2] ?? 'ctl', process.argv[3]];
const env = process.env;
const dir = env.PGDATA ?? env.SQLITE_DIR ?? env.LIFEBOAT_DIR ?? '';
const roleFile = env.KV_ROLE_FILE ?? `${dir.replace(/\/+$/, '')}.role`;
const base = `http://127.0.0.1:${env.KV_PORT ?? 8080}`;

function currentTerm() {
  try {
    return Number(JSON.parse(readFileSync(roleFile, 'utf8')).term) || 0;
  } catch {
    return 0;
  }
}

function writeRole(role) {
  const temp = `${roleFile}.tmp-${process.pid}`;
  writeFileSync(temp, JSON.stringify({ role, term: Number(env.LIFEBOAT_TERM ?? currentTerm()) }));
  renameSync(temp, roleFile);
}

async function poke() {
  try {
    const res = await fetch(`${base}/_admin/role`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`answered ${res.status}: ${(await res.text()).trim()}`);
  } catch (err) {
    // Not listening yet: the server takes the role from the file once it is.
    if (err?.cause?.code !== 'ECONNREFUSED') throw err;
  }
}

async function health() {
  const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(10_000) });
  return { res, body: await res.json().catch(() => ({})) };
}

switch (command) {
  case 'promote':
    writeRole('primary');
    await poke();
    break;
  case 'demote':
    writeRole('replica');
    await poke();
    break;
  case 'health': {
    const { res, body } = await health();
    if (!res.ok) {
      console.error(`${name}: /health answered ${res.status}`);
      process.exit(1);
    }
    console.log(JSON.stringify(body));
    break;
  }
  case 'ready': {
    const { res, body } = await health();
    if (!res.ok || body.role !== 'primary' || body.converging) {
      console.error(
        `${name}: not ready for a snapshot: ${res.ok ? `role ${body.role}${body.converging ? ', still taking over' : ''}` : `/health answered ${res.status}`}`,
      );
      process.exit(1);
    }
    break;
  }
  default:
    console.error(`usage: ${name} promote|demote|health|ready`);
    process.exit(2);
}
