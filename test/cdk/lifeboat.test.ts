import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { Lifeboat } from '../../lib/index.js';

function synth(props?: ConstructorParameters<typeof Lifeboat>[2]) {
  const stack = new Stack(new App(), 'Test');
  const lifeboat = new Lifeboat(stack, 'Lifeboat', props);
  return { stack, lifeboat, template: () => Template.fromStack(stack) };
}

describe('Lifeboat storage', () => {
  it('GIVEN defaults WHEN synthesized THEN the catalog table is on-demand, recoverable, encrypted, with TTL, and retained', () => {
    const t = synth().template();
    t.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        SSESpecification: { SSEEnabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      }),
    });
  });

  it('GIVEN defaults WHEN synthesized THEN the bucket blocks public access, requires TLS, is versioned and expires what crashes leave', () => {
    const t = synth().template();
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        LifecycleConfiguration: {
          Rules: [
            Match.objectLike({ Id: 'noncurrent-versions', NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' }),
            Match.objectLike({ Id: 'incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: 'Enabled' }),
          ],
        },
      }),
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('GIVEN a KMS key and object lock WHEN synthesized THEN both are used', () => {
    const stack = new Stack(new App(), 'Kms');
    const key = new kms.Key(stack, 'Key');
    new Lifeboat(stack, 'Lifeboat', { encryptionKey: key, objectLock: true, removalPolicy: RemovalPolicy.DESTROY });
    const t = Template.fromStack(stack);
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({
        ObjectLockEnabled: true,
        BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }), BucketKeyEnabled: true })] },
      }),
    });
    t.hasResourceProperties('AWS::DynamoDB::Table', { SSESpecification: Match.objectLike({ SSEEnabled: true, SSEType: 'KMS' }) });
  });

  it('GIVEN a task role WHEN granted snapshot access THEN it reaches only its own prefix and partition', () => {
    const { stack, lifeboat, template } = synth();
    const role = new iam.Role(stack, 'TaskRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    lifeboat.grantSnapshotAccess(role, 'wiki');
    const statements = template().findResources('AWS::IAM::Policy');
    const doc = Object.values(statements)[0]!.Properties.PolicyDocument.Statement as { Action: string | string[]; Condition?: unknown; Resource: unknown }[];
    const s3Objects = doc.find((s) => [s.Action].flat().includes('s3:PutObject'))!;
    expect(JSON.stringify(s3Objects.Resource)).toContain('/wiki/*');
    const list = doc.find((s) => [s.Action].flat().includes('s3:ListBucket'))!;
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['wiki/*'] } });
    const items = doc.find((s) => [s.Action].flat().includes('dynamodb:PutItem'))!;
    expect(items.Condition).toEqual({ 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['SVC#wiki'] } });
    // No statement grants item access without the partition condition.
    for (const s of doc) {
      if ([s.Action].flat().some((a) => /dynamodb:(Get|Put|Update|Delete)Item|dynamodb:Query/.test(a))) expect(s.Condition).toBeDefined();
    }
  });

  it('rejects lifecycle durations that are not whole days, naming the value', () => {
    expect(() => synth({ noncurrentVersionExpiration: Duration.hours(5) })).toThrow(/noncurrentVersionExpiration must be a whole number of days, at least 1 \(got 5 hours\)/);
  });
});
