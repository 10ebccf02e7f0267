import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/**
 * Properties of the Lifeboat construct.
 */
export interface LifeboatProps {
  /**
   * KMS key for the snapshot bucket and the catalog table.
   *
   * @default - S3-managed encryption for the bucket and an AWS owned key for the table
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * What happens to the catalog table and the snapshot bucket when the stack is deleted.
   * Snapshots are the point of Lifeboat: keep them unless told otherwise.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Days after which a noncurrent (overwritten or deleted) object version is removed.
   *
   * @default 30
   */
  readonly noncurrentVersionExpiration?: Duration;

  /**
   * Days after which an unfinished multipart upload (a snapshot writer that crashed) is
   * aborted by S3.
   *
   * @default 7
   */
  readonly abortIncompleteMultipartUploadAfter?: Duration;

  /**
   * Enable S3 Object Lock on the bucket (can only be set when the bucket is created).
   *
   * @default false
   */
  readonly objectLock?: boolean;
}

/**
 * Lifeboat's storage: the DynamoDB catalog table (single-table design, `pk`/`sk`) and the
 * snapshot bucket, secure by default. The control plane (Lambdas, schedules, alarms) and
 * `protect()` build on it.
 */
export class Lifeboat extends Construct {
  /** The catalog and coordination table. */
  readonly table: dynamodb.Table;
  /** The snapshot bucket. */
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: LifeboatProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const noncurrent = props.noncurrentVersionExpiration ?? Duration.days(30);
    const abortAfter = props.abortIncompleteMultipartUploadAfter ?? Duration.days(7);
    for (const [name, d] of [
      ['noncurrentVersionExpiration', noncurrent],
      ['abortIncompleteMultipartUploadAfter', abortAfter],
    ] as const) {
      if (!Token.isUnresolved(d.toDays({ integral: false })) && (d.toDays({ integral: false }) < 1 || !Number.isInteger(d.toDays({ integral: false })))) {
        throw new Error(`${name} must be a whole number of days, at least 1 (got ${d.toHumanString()}); use Duration.days(n)`);
      }
    }

    // Table (not TableV2): a customer managed key on TableV2 needs a region-bound stack.
    this.table = new dynamodb.Table(this, 'Catalog', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      encryption: props.encryptionKey ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.AWS_MANAGED,
      encryptionKey: props.encryptionKey,
      removalPolicy,
    });

    this.bucket = new s3.Bucket(this, 'Snapshots', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: props.encryptionKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: props.encryptionKey ? true : undefined,
      versioned: true,
      objectLockEnabled: props.objectLock ?? false,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { id: 'noncurrent-versions', noncurrentVersionExpiration: noncurrent },
        { id: 'incomplete-uploads', abortIncompleteMultipartUploadAfter: abortAfter },
      ],
      removalPolicy,
      autoDeleteObjects: false,
    });
  }

  /**
   * Lets a protected service's tasks take and restore its own snapshots, and nothing else:
   * objects under `<service>/` in the bucket and catalog items whose partition key is the
   * service's (`dynamodb:LeadingKeys`).
   */
  grantSnapshotAccess(grantee: iam.IGrantable, service: string): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      resourceArns: [this.bucket.arnForObjects(`${service}/*`)],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${service}/*`] } },
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'],
      resourceArns: [this.table.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [`SVC#${service}`] } },
    });
    // `lifeboat` checks the table exists before it writes; DescribeTable reveals no items.
    iam.Grant.addToPrincipal({ grantee, actions: ['dynamodb:DescribeTable'], resourceArns: [this.table.tableArn] });
    this.bucket.encryptionKey?.grantEncryptDecrypt(grantee);
    this.table.encryptionKey?.grantEncryptDecrypt(grantee);
    return grant;
  }
}
