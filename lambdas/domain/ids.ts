/**
 * Names and identifiers: snapshot ids and service names. Pure.
 */
import { UsageError } from './errors.js';

/** Snapshot ids sort by creation time as plain strings: 20261127T081735.123Z-9f3c2a1b. */
const SNAPSHOT_ID = /^(\d{8}T\d{6}\.\d{3}Z)-([0-9a-f]{8})$/;

/**
 * Builds a snapshot id from a time and 4 random bytes (passed in, so this stays pure).
 * The random suffix keeps two snapshots started in the same millisecond apart.
 */
export function makeSnapshotId(at: Date, random: Uint8Array): string {
  const iso = at.toISOString(); // 2026-11-27T08:17:35.123Z
  const stamp = iso.replace(/[-:]/g, '');
  const suffix = Buffer.from(random.subarray(0, 4)).toString('hex').padStart(8, '0');
  return `${stamp}-${suffix}`;
}

export function isSnapshotId(id: string): boolean {
  return SNAPSHOT_ID.test(id);
}

/** The creation time encoded in a snapshot id. */
export function snapshotIdTime(id: string): Date {
  const m = SNAPSHOT_ID.exec(id);
  if (!m) throw new UsageError(`"${id}" is not a snapshot id`, { hint: 'ids look like 20261127T081735.123Z-9f3c2a1b; list them with `lifeboat snapshots`' });
  const s = m[1]!;
  return new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13)}`);
}

/**
 * Service names become DynamoDB key parts and S3 key segments, so '#' and '/' are out.
 * The allowed set matches ECS service names (letters, digits, '-', '_') plus '.'.
 */
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export function assertServiceName(name: string | undefined): string {
  if (name === undefined || name === '') {
    throw new UsageError('no service given', { hint: 'pass --service NAME (or set LIFEBOAT_SERVICE)' });
  }
  if (!SERVICE_NAME.test(name)) {
    throw new UsageError(`service name ${JSON.stringify(name)} is not valid`, {
      hint: 'use 1-255 letters, digits, ".", "_" or "-", starting with a letter or digit (like the ECS service name)',
    });
  }
  return name;
}
