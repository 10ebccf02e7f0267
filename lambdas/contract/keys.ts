/**
 * The key layout: every DynamoDB key and every object-store key Lifeboat uses is built
 * here, and only here (Velero's object_store_layout, for the same reason: a layout change
 * is one diff, and IAM conditions such as `dynamodb:LeadingKeys` and S3 prefixes can be
 * derived from it). This comment is the one description of the layout; README.md and
 * docs/ARCHITECTURE.md link here instead of copying it.
 *
 * Table: single-table design, string keys `pk` / `sk` (TABLE_KEY). Everything about one
 * service lives in its partition `SVC#<service>`, so a task role can be limited to its own
 * items with `dynamodb:LeadingKeys`; only the registry lives elsewhere. Items that expire
 * carry `expiresAt` (epoch seconds, TTL_ATTRIBUTE), the table's TTL attribute.
 *
 *   pk              sk                          item
 *   SVC#<service>   CONFIG                      the service's policy (ServicePolicy, domain/service-policy.ts):
 *                                               snapshot, retention, failover, drill, targets, ECS placement, discovery
 *   REGISTRY        SVC#<service>               directory of protected services, so "all services" needs no scan
 *   SVC#<service>   SNAP#<snapshotId>           snapshot catalog entry (SnapshotRecord, domain/snapshot.ts): status,
 *                                               sizes, counts, manifest key + SHA-256, term, source, reason, verifiedAt
 *   SVC#<service>   JOB#<jobId>                 snapshot job: requested → complete | failed | error, mode, deadline,
 *                                               target; expires 30 days after it finishes (adapters/job-store.ts)
 *   SVC#<service>   DRILL#<drillId>             one restore drill: status, snapshot, launch settings, task, agent
 *                                               result, outcome, RTO/RPO
 *   SVC#<service>   USE#<snapshotId>#<holder>   snapshot hold: a running restore or drill holds the snapshot until
 *                                               `expiresAt`; retention skips it (adapters/snapshot-holds.ts)
 *   SVC#<service>   LEASE                       who is primary: holder task ARN, term (the fencing token), electedAt,
 *                                               previousHolder
 *   SVC#<service>   MEMBER#<taskArn>            one task of the service: ECS state, heartbeat, aliveUntil, data
 *                                               position, primaryTerm, pending commands; expires 7 days after STOPPED
 *
 * Ids start with their time (snapshot `20261127T081735.123Z-9f3c2a1b`, drill
 * `drill-20261127T081735Z-9f3c2a1b`, job `job-20261127T081735Z-…`), so a Query reads them
 * in time order; `LEASE` sorts right before `MEMBER#…`, so one Query reads the lease and
 * every member (coordinationRange).
 *
 * Store: keys are relative to the store root (the bucket prefix or directory).
 *
 *   v1 (full copies, still restorable):
 *   <service>/snapshots/<snapshotId>/part-0000.tar.zst     zstd-compressed tar (`tar --zstd -x` unpacks it)
 *   <service>/snapshots/<snapshotId>/part-0001.tar         a part whose data does not compress, plain tar
 *   <service>/snapshots/<snapshotId>/manifest.json.gz      written last
 *   v2 (content-addressed, deduplicated per service; docs/FORMAT-V2.md):
 *   <service>/snapshots/<snapshotId>/manifest-v2.json.zst   (written last; the only object a
 *                                                          snapshot owns, so retention deleting
 *                                                          the snapshot's prefix leaves shared data)
 *   <service>/packs/<xx>/<packId>                          pack of blobs; xx = first 2 hex of packId,
 *                                                          packId = SHA-256 of the pack
 *   <service>/index/<indexId>.json.gz                      blob → pack locations; indexId = the id
 *                                                          of the snapshot that wrote it
 *   <service>/gc/condemned/<id>.json.gz                    packs condemned by GC, not yet deleted
 *   _reports/drills/all/report.<ext>                       drill report of every service
 *   _reports/drills/service/<service>/report.<ext>         drill report of one service
 *      <ext>: json | junit.xml | md | html. Service names start with a letter or digit,
 *      so the `_reports/` prefix can never collide with a service's own prefix.
 *
 * Cloud Map: the primary is the one instance `primary` of the service's discovery service.
 */
import type { ReportFormat } from '../domain/drill-report.js';

export const TABLE_KEY = { partition: 'pk', sort: 'sk' } as const;

/** TTL attribute name, enabled by `lifeboat init` and the CDK construct. */
export const TTL_ATTRIBUTE = 'expiresAt';

export const servicePk = (service: string): string => `SVC#${service}`;

export const CONFIG_SK = 'CONFIG';
export const serviceConfigKey = (service: string) => ({
  [TABLE_KEY.partition]: servicePk(service),
  [TABLE_KEY.sort]: CONFIG_SK,
});

export const REGISTRY_PK = 'REGISTRY';
export const REGISTRY_SK_PREFIX = 'SVC#';
export const registryKey = (service: string) => ({
  [TABLE_KEY.partition]: REGISTRY_PK,
  [TABLE_KEY.sort]: `${REGISTRY_SK_PREFIX}${service}`,
});

export const SNAPSHOT_SK_PREFIX = 'SNAP#';
export const snapshotSk = (snapshotId: string): string => `${SNAPSHOT_SK_PREFIX}${snapshotId}`;
export const snapshotIdFromSk = (sk: string): string => sk.slice(SNAPSHOT_SK_PREFIX.length);

export const snapshotKey = (service: string, snapshotId: string) => ({
  [TABLE_KEY.partition]: servicePk(service),
  [TABLE_KEY.sort]: snapshotSk(snapshotId),
});

/** All of a service's snapshots in the store. Ends with '/'. */
export const serviceSnapshotsPrefix = (service: string): string => `${service}/snapshots/`;

/** All objects of one snapshot. Ends with '/'. */
export const snapshotPrefix = (service: string, snapshotId: string): string => `${serviceSnapshotsPrefix(service)}${snapshotId}/`;

export const MANIFEST_NAME = 'manifest.json.gz';

export const manifestObjectKey = (service: string, snapshotId: string): string => `${snapshotPrefix(service, snapshotId)}${MANIFEST_NAME}`;

/** `.tar.zst` for compressed parts, `.tar` for parts of data that does not compress. */
export const partObjectKey = (service: string, snapshotId: string, index: number, compression: 'zstd' | 'none' = 'zstd'): string =>
  `${snapshotPrefix(service, snapshotId)}part-${String(index).padStart(4, '0')}.tar${compression === 'zstd' ? '.zst' : ''}`;

/** v2: the manifest's own name tells the format without fetching it. */
export const MANIFEST_V2_NAME = 'manifest-v2.json.zst';

export const manifestV2ObjectKey = (service: string, snapshotId: string): string => `${snapshotPrefix(service, snapshotId)}${MANIFEST_V2_NAME}`;

export const isManifestV2Key = (key: string): boolean => key.endsWith(`/${MANIFEST_V2_NAME}`);

/** All of a service's pack objects. Ends with '/'. */
export const servicePacksPrefix = (service: string): string => `${service}/packs/`;

export const packObjectKey = (service: string, packId: string): string => `${servicePacksPrefix(service)}${packId.slice(0, 2)}/${packId}`;

/** Pack id of a key under servicePacksPrefix, or undefined. */
export function parsePackObjectKey(service: string, key: string): string | undefined {
  const m = /^([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(key.startsWith(servicePacksPrefix(service)) ? key.slice(servicePacksPrefix(service).length) : '');
  return m && m[2]!.startsWith(m[1]!) ? m[2] : undefined;
}

/** All of a service's index files. Ends with '/'. */
export const serviceIndexPrefix = (service: string): string => `${service}/index/`;

export const indexObjectKey = (service: string, indexId: string): string => `${serviceIndexPrefix(service)}${indexId}.json.gz`;

/** GC's condemned lists (docs/FORMAT-V2.md §7). Ends with '/'. */
export const serviceCondemnedPrefix = (service: string): string => `${service}/gc/condemned/`;

export const condemnedObjectKey = (service: string, id: string): string => `${serviceCondemnedPrefix(service)}${id}.json.gz`;

/** Splits `<service>/snapshots/<id>/<name>` back into its parts, or undefined. */
export function parseSnapshotObjectKey(key: string): { service: string; snapshotId: string; name: string } | undefined {
  const m = /^([^/]+)\/snapshots\/([^/]+)\/([^/]+)$/.exec(key);
  return m ? { service: m[1]!, snapshotId: m[2]!, name: m[3]! } : undefined;
}

/** Restore drills: one item per drill in the service's partition. */
export const DRILL_SK_PREFIX = 'DRILL#';
export const drillSk = (drillId: string): string => `${DRILL_SK_PREFIX}${drillId}`;
export const drillIdFromSk = (sk: string): string => sk.slice(DRILL_SK_PREFIX.length);
export const drillKey = (service: string, drillId: string) => ({
  [TABLE_KEY.partition]: servicePk(service),
  [TABLE_KEY.sort]: drillSk(drillId),
});

/** Drill report formats and the file extension each is stored under. */
export const REPORT_EXTENSIONS: Readonly<Record<ReportFormat, string>> = { json: 'json', junit: 'junit.xml', markdown: 'md', html: 'html' };

export const REPORTS_PREFIX = '_reports/drills/';

/** Where a drill report is stored: every service (`service` omitted) or one service. */
export function reportObjectKey(format: ReportFormat, service?: string): string {
  const scope = service === undefined ? 'all' : `service/${service}`;
  return `${REPORTS_PREFIX}${scope}/report.${REPORT_EXTENSIONS[format]}`;
}
/**
 * Snapshot holds: one item per snapshot and holder (a restore's task, a drill's id), in the
 * service's partition so the sweep finds every live one with a single Query. Snapshot ids
 * never contain '#', so `USE#<id>#` selects exactly one snapshot's leases.
 */
export const SNAPSHOT_USE_SK_PREFIX = 'USE#';
export const snapshotUseSkPrefix = (snapshotId?: string): string =>
  snapshotId === undefined ? SNAPSHOT_USE_SK_PREFIX : `${SNAPSHOT_USE_SK_PREFIX}${snapshotId}#`;

export const snapshotUseKey = (service: string, snapshotId: string, holder: string) => ({
  [TABLE_KEY.partition]: servicePk(service),
  [TABLE_KEY.sort]: `${snapshotUseSkPrefix(snapshotId)}${holder}`,
});
/** The service's lease: the single item every election is a conditional write on. */
export const LEASE_SK = 'LEASE';
export const leaseKey = (service: string) => ({
  [TABLE_KEY.partition]: servicePk(service),
  [TABLE_KEY.sort]: LEASE_SK,
});

/** Members: one item per task of the service (task ARNs contain no '#'). */
export const MEMBER_SK_PREFIX = 'MEMBER#';
export const memberSk = (taskArn: string): string => `${MEMBER_SK_PREFIX}${taskArn}`;
export const taskArnFromMemberSk = (sk: string): string => sk.slice(MEMBER_SK_PREFIX.length);
export const memberKey = (service: string, taskArn: string) => ({
  [TABLE_KEY.partition]: servicePk(service),
  [TABLE_KEY.sort]: memberSk(taskArn),
});

/**
 * The lease and every member of a service in one consistent Query: `LEASE` sorts right
 * before `MEMBER#...`, and `MEMBER$` ('$' follows '#') right after the last member.
 */
export const coordinationRange = (service: string) => ({
  pk: servicePk(service),
  from: LEASE_SK,
  to: 'MEMBER$',
});

/** Cloud Map instance id under which the primary is registered (one per discovery service). */
export const PRIMARY_INSTANCE_ID = 'primary';

/** Snapshot jobs: one item per requested snapshot (job ids sort by request time). */
export const JOB_SK_PREFIX = 'JOB#';
export const jobKey = (service: string, jobId: string) => ({
  [TABLE_KEY.partition]: servicePk(service),
  [TABLE_KEY.sort]: `${JOB_SK_PREFIX}${jobId}`,
});
export const jobIdFromSk = (sk: string): string => sk.slice(JOB_SK_PREFIX.length);
