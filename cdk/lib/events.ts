import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { AlbSyncPropsError } from './binding';
import { FunctionCode } from './code';

/** The service principal that makes an ALB's interface calls (CloudTrail `userIdentity.invokedBy`). */
export const ELB_PRINCIPAL = 'elasticloadbalancing.amazonaws.com';

/** A binding's ENI source, as the binding's `eni` field (docs/architecture.md, "ENI source"). */
export interface EniSourceProps {
  /** The ALB's name (`app/<name>/<id>`). */
  readonly loadBalancerName: string;
  /** The ALB's id (`app/<name>/<id>`, hex). */
  readonly loadBalancerId: string;
}

/** One binding the event path can start: its name, the execution input the schedule uses, its ALB. */
export interface EventBinding {
  readonly name: string;
  /** The execution input exactly as the schedule passes it (the binding JSON, with its `eni` field). */
  readonly input: Record<string, unknown>;
  readonly eni: EniSourceProps;
}

/** Props of {@link AlbSyncEvents}. */
export interface AlbSyncEventsProps {
  /** The albsync state machine. */
  readonly stateMachine: sfn.IStateMachine;
  /** The bindings with an ENI source. */
  readonly bindings: readonly EventBinding[];
  /**
   * The `albsync-trigger` code: a FunctionCode (as the AlbSync construct passes its own), or a `lambda.Code`
   * (e.g. `lambda.Code.fromAsset('target/lambda/albsync-trigger')`).
   */
  readonly code: lambda.Code | FunctionCode;
  /** Memory of the trigger function in MB (default 128: it makes one call per binding). */
  readonly memorySize?: number;
  /** Retention of the trigger's log group (default one month). */
  readonly logRetention?: logs.RetentionDays;
  /** Removal policy of the log group (default RETAIN). */
  readonly removalPolicy?: RemovalPolicy;
}

/** `ELB app/<name>/<id>`: the description ELB gives an ALB's network interfaces. */
export function interfaceDescription(eni: EniSourceProps): string {
  return `ELB app/${eni.loadBalancerName}/${eni.loadBalancerId}`;
}

/**
 * The EventBridge pattern: EC2 CreateNetworkInterface / DeleteNetworkInterface recorded by CloudTrail, made by
 * Elastic Load Balancing. Creations are narrowed to the bound ALBs' descriptions; a deletion carries only the
 * interface id, so every deletion by ELB matches and the trigger runs each ENI binding. CloudTrail delivers
 * these management events to EventBridge only with a trail, on a best-effort basis
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html); the schedule stays.
 */
export function interfaceEventPatterns(bindings: readonly EventBinding[]): events.EventPattern[] {
  const common = {
    source: ['aws.ec2'],
    detailType: ['AWS API Call via CloudTrail'],
  };
  const byElb = { eventSource: ['ec2.amazonaws.com'], userIdentity: { invokedBy: [ELB_PRINCIPAL] } };
  return [
    {
      ...common,
      detail: {
        ...byElb,
        eventName: ['CreateNetworkInterface'],
        requestParameters: { description: [...new Set(bindings.map((b) => interfaceDescription(b.eni)))].sort() },
      },
    },
    { ...common, detail: { ...byElb, eventName: ['DeleteNetworkInterface'] } },
  ];
}

/**
 * The event path: two EventBridge rules (interface creations of the bound ALBs, interface deletions by ELB)
 * targeting the `albsync-trigger` function, which starts the matching binding's execution with a name derived
 * from the event (EventBridge's own Step Functions target cannot set one). The trigger may only StartExecution
 * on this state machine. The one-minute schedule remains the backstop.
 */
export class AlbSyncEvents extends Construct {
  public readonly trigger: lambda.Function;
  public readonly rules: events.Rule[];
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AlbSyncEventsProps) {
    super(scope, id);
    if (props.bindings.length === 0) {
      throw new AlbSyncPropsError('bindings', 'the event path needs at least one binding with an eni source');
    }
    for (const b of props.bindings) {
      if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/.test(b.eni.loadBalancerName)) {
        throw new AlbSyncPropsError(`bindings[${b.name}].eni.loadBalancerName`, `${JSON.stringify(b.eni.loadBalancerName)} is not an ALB name`);
      }
      if (!/^[0-9a-f]{1,32}$/.test(b.eni.loadBalancerId)) {
        throw new AlbSyncPropsError(`bindings[${b.name}].eni.loadBalancerId`, `${JSON.stringify(b.eni.loadBalancerId)} is not an ALB id (hex)`);
      }
    }
    this.logGroup = new logs.LogGroup(this, 'TriggerLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(this, 'TriggerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'albsync-trigger: StartExecution on the albsync state machine, its own logs',
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'OwnLogGroupOnly',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StartThisStateMachineOnly',
        actions: ['states:StartExecution'],
        resources: [props.stateMachine.stateMachineArn],
      }),
    );
    const settings = {
      description: 'albsync: an ALB interface event to a named execution of its binding',
      memorySize: props.memorySize ?? 128,
      timeout: Duration.seconds(30),
      role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        ALBSYNC_STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        ALBSYNC_BINDINGS: Stack.of(this).toJsonString(props.bindings.map((b) => b.input)),
      },
    };
    this.trigger =
      props.code instanceof FunctionCode
        ? props.code.createFunction(this, 'Trigger', 'albsync-trigger', settings)
        : new lambda.Function(this, 'Trigger', {
            ...settings,
            code: props.code,
            handler: 'bootstrap',
            runtime: lambda.Runtime.PROVIDED_AL2023,
            architecture: lambda.Architecture.ARM_64,
          });
    this.rules = interfaceEventPatterns(props.bindings).map(
      (eventPattern, i) =>
        new events.Rule(this, i === 0 ? 'InterfaceCreated' : 'InterfaceDeleted', {
          description: `albsync: ALB interface ${i === 0 ? 'created (bound ALBs)' : 'deleted (by ELB)'}: run the binding now`,
          eventPattern,
          targets: [new targets.LambdaFunction(this.trigger, { retryAttempts: 2, maxEventAge: Duration.minutes(5) })],
        }),
    );
  }
}

/**
 * The extra permission of the functions that read an ENI-source binding's interfaces: diff plans with them, and
 * register and deregister read them again just before they act (an interface can go, or a freed address be
 * taken by a new interface, in the seconds after the diff). DescribeNetworkInterfaces supports no
 * resource-level permission (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html),
 * so it needs `*`; it only reads.
 */
export function grantDescribeNetworkInterfaces(fn: lambda.IFunction & Construct): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'DescribeNetworkInterfacesHasNoResourceLevelPermission',
      actions: ['ec2:DescribeNetworkInterfaces'],
      resources: ['*'],
    }),
  );
  const policy = fn.role?.node.tryFindChild('DefaultPolicy');
  if (policy) {
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeNetworkInterfaces (and, where the role has it, elasticloadbalancing:DescribeTargetHealth) ' +
        'has no resource-level permission (AWS requires `*`); both only read.',
    });
  }
}
