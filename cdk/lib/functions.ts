import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { FunctionCode, WorkflowBinary } from './code';
import { grantDescribeNetworkInterfaces } from './events';

/** Where the functions run inside a VPC (see {@link AlbSyncProps.vpcPlacement}). */
export interface FunctionVpcPlacement {
  /** The VPC. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the functions' network interfaces (private subnets: Lambda never gets a public address).
   * @default - the VPC's private subnets (with egress, else isolated)
   */
  readonly subnets?: ec2.SubnetSelection;
  /**
   * Security groups of the functions.
   * @default - one group, all outbound allowed, no inbound (the functions only call out)
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Create the VPC endpoints the functions call: S3 (gateway), Elastic Load Balancing, CloudWatch,
   * CloudWatch Logs and STS (interface). Turn off when the subnets reach AWS through a NAT gateway or the
   * endpoints exist already (each interface endpoint costs per hour and per zone).
   * @default true
   */
  readonly createEndpoints?: boolean;
}

/** Props of {@link AlbSyncFunctions}. */
export interface AlbSyncFunctionsProps {
  /** Where the code comes from. */
  readonly code: FunctionCode;
  /**
   * CloudWatch namespace of the metrics (ALBSYNC_METRIC_NAMESPACE). The functions write them as Embedded Metric
   * Format log lines (crates/albsync-aws/src/emf.rs): CloudWatch Logs extracts them, so no cloudwatch:PutMetricData.
   */
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
  /**
   * The deployment name (ALBSYNC_DEPLOYMENT on every function: the metrics' `Deployment` dimension, so two
   * stacks in one region never share a metric).
   */
  readonly deployment: string;
  /** Run the functions inside a VPC (subnets and security groups resolved by the caller). */
  readonly vpc?: { readonly vpc: ec2.IVpc; readonly subnets: ec2.SubnetSelection; readonly securityGroups: ec2.ISecurityGroup[] };
  /** Some binding has an `eni` source: the diff function describes the ALB's network interfaces. */
  readonly eniSource?: boolean;
  /** Every binding's `roleArn` (target groups in other accounts): diff, register and deregister may assume them. */
  readonly assumeRoleArns?: string[];
}

/** Timeouts: well under the one-minute schedule; resolve gets the most (it samples DNS). */
const TIMEOUTS: Record<WorkflowBinary, Duration> = {
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
  public readonly logGroups: Record<WorkflowBinary, logs.LogGroup>;

  constructor(scope: Construct, id: string, props: AlbSyncFunctionsProps) {
    super(scope, id);
    const logGroups: Partial<Record<WorkflowBinary, logs.LogGroup>> = {};

    const make = (cid: string, binary: WorkflowBinary, description: string, environment: Record<string, string>) => {
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
        ...(props.vpc ? { vpc: props.vpc.vpc, vpcSubnets: props.vpc.subnets, securityGroups: props.vpc.securityGroups } : {}),
        // Every function emits metrics (Embedded Metric Format) in the namespace, keyed by deployment and binding.
        environment: { ALBSYNC_METRIC_NAMESPACE: props.metricNamespace, ALBSYNC_DEPLOYMENT: props.deployment, ...environment },
      });
    };

    this.resolve = make('Resolve', 'albsync-resolve', 'albsync: resolve the bound DNS name', {
      ...(props.dnsServer ? { ALBSYNC_DNS_SERVER: props.dnsServer } : {}),
    });
    this.diff = make('Diff', 'albsync-diff', 'albsync: diff DNS against the target group, keep the state document', {
      ALBSYNC_STATE_BUCKET: props.stateBucket.bucketName,
      ALBSYNC_STATE_PREFIX: props.statePrefix,
    });
    this.register = make('Register', 'albsync-register', 'albsync: register new addresses', {});
    // deregister re-reads the state document: it removes nothing unless the document is still the version
    // SaveState wrote (a late Deregister must not act on counts another run has reset).
    this.deregister = make('Deregister', 'albsync-deregister', 'albsync: deregister expired addresses', {
      ALBSYNC_STATE_BUCKET: props.stateBucket.bucketName,
      ALBSYNC_STATE_PREFIX: props.statePrefix,
    });
    this.logGroups = logGroups as Record<WorkflowBinary, logs.LogGroup>;

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
    this.deregister.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadStateDocumentsUnderPrefixOnly',
        actions: ['s3:GetObject'],
        resources: [props.stateBucket.arnForObjects(`${props.statePrefix}*`)],
      }),
    );
    // Target groups in other accounts: assume exactly the bindings' roles, nothing else
    // (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). Each role's own policy (in its
    // account) then grants the ELB calls, and its trust policy names these functions' roles.
    const roles = [...new Set(props.assumeRoleArns ?? [])];
    if (roles.length > 0) {
      for (const fn of [this.diff, this.register, this.deregister]) {
        fn.addToRolePolicy(
          new iam.PolicyStatement({ sid: 'AssumeBindingRolesOnly', actions: ['sts:AssumeRole'], resources: roles }),
        );
      }
    }
    if (props.eniSource) for (const fn of [this.diff, this.register, this.deregister]) grantDescribeNetworkInterfaces(fn);
    if (props.vpc) {
      // Our own roles, so Lambda's managed AWSLambdaVPCAccessExecutionRole is not attached: grant its ENI actions.
      // ec2:DescribeNetworkInterfaces works only on `*`, and the ENIs do not exist before Lambda creates them.
      // https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html (execution role permissions)
      for (const fn of this.all) {
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            sid: 'LambdaVpcNetworkInterfaces',
            actions: [
              'ec2:CreateNetworkInterface',
              'ec2:DescribeNetworkInterfaces',
              'ec2:DescribeSubnets',
              'ec2:DeleteNetworkInterface',
              'ec2:AssignPrivateIpAddresses',
              'ec2:UnassignPrivateIpAddresses',
            ],
            resources: ['*'],
          }),
        );
      }
    }
    this.acknowledgeWildcards(props);
  }

  /**
   * cdk-nag AwsSolutions-IAM5 flags every `*` in a resource. Each acknowledgement below sits on one role's policy
   * and names the only statements that need it.
   */
  private acknowledgeWildcards(props: AlbSyncFunctionsProps): void {
    const xray =
      (props.tracing ? ' X-Ray (xray:PutTraceSegments, xray:PutTelemetryRecords) has no resource-level permission either.' : '') +
      (props.vpc ? ' In a VPC, the ENI actions Lambda needs (ec2:CreateNetworkInterface and friends) work only on `*`.' : '');
    const describe = 'elasticloadbalancing:DescribeTargetHealth has no resource-level permission (AWS requires `*`).';
    const ack = (fn: lambda.Function, id: string, reason: string) => {
      Validations.of(fn.role!.node.findChild('DefaultPolicy')).acknowledge({ id, reason });
    };
    if (props.tracing || props.vpc) ack(this.resolve, 'AwsSolutions-IAM5[Resource::*]', xray.trim());
    ack(this.diff, 'AwsSolutions-IAM5[Resource::*]', describe + xray);
    if (props.tracing || props.vpc) ack(this.register, 'AwsSolutions-IAM5[Resource::*]', xray.trim());
    ack(this.deregister, 'AwsSolutions-IAM5[Resource::*]', describe + xray);
    const bucketId = Stack.of(this).resolve((props.stateBucket.node.defaultChild as s3.CfnBucket).logicalId);
    ack(this.diff, `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${props.statePrefix}*]`,
      `s3:GetObject/s3:PutObject on the state documents: every key under the prefix ${props.statePrefix} (one document per binding, keys derived from the binding at run time).`);
    ack(this.deregister, `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${props.statePrefix}*]`,
      `s3:GetObject on the state documents under the prefix ${props.statePrefix}: deregister re-reads the document of its binding.`);
  }

  /** The four functions in workflow order. */
  public get all(): lambda.Function[] {
    return [this.resolve, this.diff, this.register, this.deregister];
  }
}
