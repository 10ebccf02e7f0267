/**
 * The role hooks of the database examples, as `lifeboat agent` runs them:
 *
 *   promote   --on-promote: write the role file (primary, LIFEBOAT_TERM) and tell the server,
 *             which restores a newer snapshot first when there is one, then takes writes
 *   demote    --on-demote: write the role file (replica) and tell the server
 *   health    exit 0 when the server answers /health
 */
import { readRole, writeRole } from '../kv/role.js';
import { poke } from './sql-service.js';

export async function runCtl(command: string | undefined, o: { roleFile: string; port: number; name: string }): Promise<void> {
  const term = Number(process.env.LIFEBOAT_TERM ?? readRole(o.roleFile).term);
  switch (command) {
    case 'promote':
      writeRole(o.roleFile, { role: 'primary', term });
      await poke(o.port);
      return;
    case 'demote':
      writeRole(o.roleFile, { role: 'replica', term });
      await poke(o.port);
      return;
    case 'health': {
      const res = await fetch(`http://127.0.0.1:${o.port}/health`, { signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      if (!res.ok) throw new Error(`/health answered ${res.status}: ${body.trim()}`);
      console.log(body.trim());
      return;
    }
    default:
      console.error(`usage: ${o.name} serve|promote|demote|health`);
      process.exit(2);
  }
}
