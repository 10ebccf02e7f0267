/**
 * The role file: the hooks write who this task is (primary of term N, or replica) and the
 * server reads it when told to and when it starts. A file rather than only an HTTP call
 * because the agent may promote the task before the server is listening.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface RoleFile {
  role: 'primary' | 'replica';
  term: number;
}

export const roleFileOf = (dir: string): string => `${dir.replace(/\/+$/, '')}.role`;

export function readRole(path: string): RoleFile {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as RoleFile;
    return r.role === 'primary' ? { role: 'primary', term: Number(r.term) || 0 } : { role: 'replica', term: Number(r.term) || 0 };
  } catch {
    return { role: 'replica', term: 0 };
  }
}

/** Atomic: a reader sees the old role or the new one. */
export function writeRole(path: string, role: RoleFile): void {
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, JSON.stringify(role));
  renameSync(temp, path);
}
