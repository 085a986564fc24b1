import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** Props of {@link StateBucket}. */
export interface StateBucketProps {
  /** Key prefix of the state documents; the diff function may read and write only below it. */
  readonly prefix: string;
  /** How long superseded versions of a state document are kept. */
  readonly noncurrentVersionExpiration: Duration;
  /** What happens to the bucket when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The bucket of the state documents (`<prefix><dnsName>/<targetGroupName>-<targetGroupId>/<port>.json`):
 * public access blocked, TLS only, S3-managed encryption, versioned (a bad write can be rolled back), old
 * versions expire.
 */
export class StateBucket extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly prefix: string;

  constructor(scope: Construct, id: string, props: StateBucketProps) {
    super(scope, id);
    this.prefix = props.prefix;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: false,
      lifecycleRules: [
        {
          id: 'ExpireOldStateVersions',
          enabled: true,
          noncurrentVersionExpiration: props.noncurrentVersionExpiration,
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Server access logs would need a second bucket (itself unlogged). Only the diff function writes here, ' +
        'each write is conditional (If-Match / If-None-Match) and versioned, and CloudTrail data events can audit ' +
        'object access where an organisation requires it.',
    });
  }
}
