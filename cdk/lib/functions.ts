import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { FunctionBinary, FunctionCode } from './code';

/** Props of {@link AlbSyncFunctions}. */
export interface AlbSyncFunctionsProps {
  /** Where the code comes from. */
  readonly code: FunctionCode;
  /** CloudWatch namespace of `ResolvedAddressCount` (ALBSYNC_METRIC_NAMESPACE; PutMetricData is limited to it). */
  readonly metricNamespace: string;
  /** `ip:port` of the name server the resolve function asks (ALBSYNC_DNS_SERVER); undefined: the system resolver. */
  readonly dnsServer?: string;
  /** The state bucket (ALBSYNC_STATE_BUCKET). */
  readonly stateBucket: s3.IBucket;
  /** Key prefix of the state documents (ALBSYNC_STATE_PREFIX), e.g. `albsync/`. */
  readonly statePrefix: string;
  /** ARNs of every bound target group: the only resources of RegisterTargets / DeregisterTargets. */
  readonly targetGroupArns: string[];
  /** Application log level of the functions (Lambda JSON logging: AWS_LAMBDA_LOG_LEVEL). */
  readonly logLevel: lambda.ApplicationLogLevel;
  /** Retention of each function's log group. */
  readonly logRetention: logs.RetentionDays;
  /** Memory of each function in MB. */
  readonly memorySize: number;
  /** Active X-Ray tracing. */
  readonly tracing: boolean;
  /** Removal policy of the log groups. */
  readonly logRemovalPolicy: RemovalPolicy;
}

/** Timeouts: well under the one-minute schedule; resolve gets the most (it samples DNS). */
const TIMEOUTS: Record<FunctionBinary, Duration> = {
  'albsync-resolve': Duration.seconds(50),
  'albsync-diff': Duration.seconds(30),
  'albsync-register': Duration.seconds(30),
  'albsync-deregister': Duration.seconds(30),
};

/**
 * The four Lambda functions (arm64, provided.al2023), each with its own role, its own log group with explicit
 * retention, and exactly the permissions it uses. No managed policy is attached: the CloudWatch Logs permissions
 * are granted on the function's own log group only.
 */
export class AlbSyncFunctions extends Construct {
  public readonly resolve: lambda.Function;
  public readonly diff: lambda.Function;
  public readonly register: lambda.Function;
  public readonly deregister: lambda.Function;
  /** Log group of each function, by binary name. */
  public readonly logGroups: Record<FunctionBinary, logs.LogGroup>;

  constructor(scope: Construct, id: string, props: AlbSyncFunctionsProps) {
    super(scope, id);
    const logGroups: Partial<Record<FunctionBinary, logs.LogGroup>> = {};

    const make = (cid: string, binary: FunctionBinary, description: string, environment: Record<string, string>) => {
      const logGroup = new logs.LogGroup(this, `${cid}Logs`, {
        retention: props.logRetention,
        removalPolicy: props.logRemovalPolicy,
      });
      logGroups[binary] = logGroup;
      const role = new iam.Role(this, `${cid}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `${binary}: least privilege, see cdk/README.md`,
      });
      // The log group exists (created above), so no logs:CreateLogGroup; the ARN ends in `:*` and covers its streams.
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'OwnLogGroupOnly',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      );
      return props.code.createFunction(this, cid, binary, {
        description,
        role,
        memorySize: props.memorySize,
        timeout: TIMEOUTS[binary],
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        applicationLogLevelV2: props.logLevel,
        systemLogLevelV2: lambda.SystemLogLevel.WARN,
        tracing: props.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
        environment,
      });
    };

    this.resolve = make('Resolve', 'albsync-resolve', 'albsync: resolve the bound DNS name', {
      ALBSYNC_METRIC_NAMESPACE: props.metricNamespace,
      ...(props.dnsServer ? { ALBSYNC_DNS_SERVER: props.dnsServer } : {}),
    });
    this.diff = make('Diff', 'albsync-diff', 'albsync: diff DNS against the target group, keep the state document', {
      ALBSYNC_STATE_BUCKET: props.stateBucket.bucketName,
      ALBSYNC_STATE_PREFIX: props.statePrefix,
    });
    this.register = make('Register', 'albsync-register', 'albsync: register new addresses', {});
    this.deregister = make('Deregister', 'albsync-deregister', 'albsync: deregister expired addresses', {});
    this.logGroups = logGroups as Record<FunctionBinary, logs.LogGroup>;

    // resolve: publish ResolvedAddressCount in our namespace only. PutMetricData has no resource-level
    // permission; the cloudwatch:namespace condition key is the only way to scope it.
    this.resolve.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'PutMetricDataOwnNamespaceOnly',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': props.metricNamespace } },
      }),
    );

    // DescribeTargetHealth has no resource-level permission (it needs `*`).
    const describe = () =>
      new iam.PolicyStatement({
        sid: 'DescribeTargetHealthHasNoResourceLevelPermission',
        actions: ['elasticloadbalancing:DescribeTargetHealth'],
        resources: ['*'],
      });

    // diff: read the target group, read and (conditionally) write the state documents under the prefix.
    this.diff.addToRolePolicy(describe());
    this.diff.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'StateDocumentsUnderPrefixOnly',
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [props.stateBucket.arnForObjects(`${props.statePrefix}*`)],
      }),
    );
    // Without s3:ListBucket S3 answers 403 instead of 404 (NoSuchKey) for a missing key, and the diff function
    // treats only NoSuchKey as "first run". The bucket is albsync's own and holds nothing but state documents.
    this.diff.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListOwnStateBucketForNoSuchKey',
        actions: ['s3:ListBucket'],
        resources: [props.stateBucket.bucketArn],
      }),
    );

    // register: only RegisterTargets on the bound target groups. It never reads the target group (the diff did),
    // so it gets no DescribeTargetHealth. deregister re-reads the group before removing (safety rails).
    this.register.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'RegisterOnBoundTargetGroupsOnly',
        actions: ['elasticloadbalancing:RegisterTargets'],
        resources: props.targetGroupArns,
      }),
    );
    this.deregister.addToRolePolicy(describe());
    this.deregister.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DeregisterOnBoundTargetGroupsOnly',
        actions: ['elasticloadbalancing:DeregisterTargets'],
        resources: props.targetGroupArns,
      }),
    );
    this.acknowledgeWildcards(props);
  }

  /**
   * cdk-nag AwsSolutions-IAM5 flags every `*` in a resource. Each acknowledgement below sits on one role's policy
   * and names the only statements that need it.
   */
  private acknowledgeWildcards(props: AlbSyncFunctionsProps): void {
    const xray = props.tracing ? ' X-Ray (xray:PutTraceSegments, xray:PutTelemetryRecords) has no resource-level permission either.' : '';
    const describe = 'elasticloadbalancing:DescribeTargetHealth has no resource-level permission (AWS requires `*`).';
    const ack = (fn: lambda.Function, id: string, reason: string) => {
      Validations.of(fn.role!.node.findChild('DefaultPolicy')).acknowledge({ id, reason });
    };
    ack(this.resolve, 'AwsSolutions-IAM5[Resource::*]',
      'cloudwatch:PutMetricData has no resource-level permission; it is limited by the condition cloudwatch:namespace = ' +
      `${props.metricNamespace}.${xray}`);
    ack(this.diff, 'AwsSolutions-IAM5[Resource::*]', describe + xray);
    if (props.tracing) ack(this.register, 'AwsSolutions-IAM5[Resource::*]', xray.trim());
    ack(this.deregister, 'AwsSolutions-IAM5[Resource::*]', describe + xray);
    const bucketId = Stack.of(this).resolve((props.stateBucket.node.defaultChild as s3.CfnBucket).logicalId);
    ack(this.diff, `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${props.statePrefix}*]`,
      `s3:GetObject/s3:PutObject on the state documents: every key under the prefix ${props.statePrefix} (one document per binding, keys derived from the binding at run time).`);
  }

  /** The four functions in workflow order. */
  public get all(): lambda.Function[] {
    return [this.resolve, this.diff, this.register, this.deregister];
  }
}
