/** A snapshot as the catalog records it: the entity every flow (engine, retention, drills) shares. */

export type SnapshotStatus = 'uploading' | 'complete' | 'expiring';

export interface SnapshotRecord {
  service: string;
  id: string;
  status: SnapshotStatus;
  createdAt: string;
  completedAt?: string;
  /** Bytes stored in the object store (compressed archives plus manifest). */
  size?: number;
  /** Bytes of file content in the snapshot, before compression. */
  dataSize?: number;
  fileCount?: number;
  entryCount?: number;
  partCount?: number;
  manifestKey: string;
  manifestSha256?: string;
  /** Fencing term of the writer (the primary's lease term), when it had one. */
  term?: number;
  sourceTask?: string;
  sourceHost?: string;
  reason: string;
  verifiedAt?: string;
  /**
   * A drill of this snapshot failed (its data did not verify): when, and which drill. It is
   * no longer verified; `latest` restores and retention's protection pass over it until a
   * later drill passes again.
   */
  suspectAt?: string;
  suspectDrill?: string;
  /** Files that changed while being read, and other entries worth a look. */
  warningCount?: number;
  /** When the retention sweep marked it `expiring`, and the status it had before. */
  expiringAt?: string;
  expiringFrom?: 'complete' | 'uploading';
}

/** What the retention sweep reads of every entry (a projection: a million entries stay cheap). */
export type SnapshotSummary = Pick<SnapshotRecord, 'service' | 'id' | 'status' | 'createdAt' | 'manifestKey' | 'verifiedAt' | 'expiringAt' | 'expiringFrom'>;

/** What `markExpiring` expects to find, so a decision made on a plan is not applied to a changed entry. */
export interface ExpiringExpectation {
  status: 'complete' | 'uploading';
  /** The entry's verifiedAt when the plan was made (undefined: it was not verified). */
  verifiedAt?: string;
}

export type SnapshotStart = Pick<SnapshotRecord, 'service' | 'id' | 'createdAt' | 'manifestKey' | 'term' | 'sourceTask' | 'sourceHost' | 'reason'>;

export type SnapshotCompletion = Required<
  Pick<SnapshotRecord, 'completedAt' | 'size' | 'dataSize' | 'fileCount' | 'entryCount' | 'partCount' | 'manifestSha256' | 'warningCount'>
>;

/** The writer's fencing token: the lease term it held when it started the snapshot. */
export interface CommitFence {
  term: number;
}
