import { Annotations, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Alarms, FailureAlarmProps, SAFETY_RAIL_ERROR } from './alarms';
import { AlbSyncPropsError, BindingProps, eniNameAndId, executionInput, MAX_SLOT_SECONDS, ResolvedBindingProps, resolveBindings, validateBindings } from './binding';
import { FunctionCode } from './code';
import { PublishedConfig } from './config';
import { AlbSyncDashboard } from './dashboard';
import { AlbSyncEvents } from './events';
import { AlbSyncFunctions, FunctionVpcPlacement } from './functions';
import { Schedules } from './schedules';
import { StateBucket } from './state-bucket';
import { VpcPlacement } from './vpc-placement';
import { defaultDefinitionPath, failErrorsFor, Workflow } from './workflow';

/** Props of {@link AlbSync}. */
export interface AlbSyncProps {
  /**
   * What to keep in sync: one DNS name, target group and port per binding. At least one; names unique.
   * Each binding gets its own schedule (its execution input), state document and alarm.
   */
  readonly bindings: BindingProps[];

  /**
   * Interval between runs of each binding: a whole number of minutes, at least one.
   * @default Duration.minutes(1)
   */
  readonly schedule?: Duration;

  /**
   * Standard (every run in the console with its graph, 90 days of history) or Express (about fifty times
   * cheaper at one run a minute; history only in CloudWatch Logs).
   * @default sfn.StateMachineType.STANDARD
   */
  readonly workflowType?: sfn.StateMachineType;

  /**
   * Application log level of the four functions (Lambda JSON logging; the runtime sees AWS_LAMBDA_LOG_LEVEL).
   * @default lambda.ApplicationLogLevel.INFO
   */
  readonly logLevel?: lambda.ApplicationLogLevel;

  /**
   * Which execution events the state machine logs. Not OFF: the safety-rail alarm reads ExecutionFailed events
   * from this log. ALL logs every state of every run. Express requires ALL: AWS keeps no Express history
   * except this log, and the CLI reads Express runs from it.
   * @default - sfn.LogLevel.ERROR for Standard, sfn.LogLevel.ALL for Express
   */
  readonly workflowLogLevel?: sfn.LogLevel;

  /**
   * Retention of every log group (the four functions' and the state machine's).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Where alarm and OK notifications go. A topic of this app gets a policy statement that lets CloudWatch
   * (cloudwatch.amazonaws.com, alarms of this account) publish; an imported topic must allow that itself.
   * @default - a new topic (TLS only, CloudWatch may publish), an output of the stack
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * E-mail addresses subscribed to the alarm topic (each confirms the subscription once).
   * @default - none
   */
  readonly alarmEmails?: string[];

  /**
   * Other subscriptions of the alarm topic (another topic, SQS, Lambda, HTTPS, ...).
   * @default - none
   */
  readonly alarmSubscriptions?: sns.ITopicSubscription[];

  /**
   * When the failed-executions alarm fires: M failed periods of the last N.
   * @default - 3 of the last 5 periods (one period = the schedule interval)
   */
  readonly failureAlarm?: FailureAlarmProps;

  /**
   * The name this deployment is known by: the SSM parameter `/albsync/<name>` the CLI reads
   * (`albsync --stack <name>`), and the `Deployment` dimension of every metric (ALBSYNC_DEPLOYMENT), so two
   * deployments in one region never share a metric or an alarm. 1-64 characters of `A-Za-z0-9-_.`.
   * @default - the stack name
   */
  readonly deploymentName?: string;

  /**
   * Run the functions in a VPC: needed when the DNS name resolves only there (a private hosted zone, an
   * in-VPC resolver). Creates the VPC endpoints the functions call unless `createEndpoints: false` (then the
   * subnets need a NAT gateway or those endpoints).
   * @default - outside any VPC (the functions reach AWS APIs and public DNS directly)
   */
  readonly vpcPlacement?: FunctionVpcPlacement;

  /**
   * CloudWatch namespace of the functions' EMF metrics (dimensions `Deployment`, `Binding`; see
   * statemachine/metrics.json) and `SafetyRailTripped`. Must not start with `AWS/` (reserved for AWS services).
   * @default 'AlbSync'
   */
  readonly metricNamespace?: string;

  /**
   * Where the functions' code comes from: built by cargo-lambda at synthesis time, or prebuilt bootstraps
   * (`FunctionCode.prebuilt('target/lambda')`).
   * @default FunctionCode.cargoLambda() on the repository's Cargo workspace
   */
  readonly code?: FunctionCode;

  /**
   * Path of the state machine definition (JSONPath ASL with the four `${...FunctionArn}` placeholders).
   * @default the repository's statemachine/albsync.asl.json
   */
  readonly definitionPath?: string;

  /**
   * Active X-Ray tracing of the state machine and the functions.
   * @default false
   */
  readonly tracing?: boolean;

  /**
   * Memory of each function in MB (128-10240). Rust needs ~15 MB; more memory buys CPU for the first TLS
   * handshake of a cold start.
   * @default 256
   */
  readonly memorySize?: number;

  /**
   * `ip:port` of the name server the resolve function asks (ALBSYNC_DNS_SERVER).
   * @default - the Lambda environment's resolver
   */
  readonly dnsServer?: string;

  /**
   * Key prefix of the state documents in the state bucket (ALBSYNC_STATE_PREFIX). Ends with `/`.
   * @default 'albsync/'
   */
  readonly statePrefix?: string;

  /**
   * How long superseded versions of a state document are kept.
   * @default Duration.days(30)
   */
  readonly stateVersionRetention?: Duration;

  /**
   * How often EventBridge Scheduler retries a failed StartExecution (0-185) before the event goes to the
   * dead-letter queue.
   * @default 2
   */
  readonly scheduleRetryAttempts?: number;

  /**
   * What happens to the state bucket and the log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Run a binding with an `eni` source as soon as its ALB creates or deletes a network interface: EventBridge
   * rules on the CloudTrail events and the `albsync-trigger` function ({@link AlbSyncEvents}). Needs a CloudTrail
   * trail in the account (management events reach EventBridge only through one, best effort); the schedule
   * stays the backstop. At least one binding must have `eni`.
   * @default false
   */
  readonly interfaceEvents?: boolean;

  /**
   * A CloudWatch dashboard of the in-sync metrics per binding ({@link AlbSyncDashboard}).
   * @default false
   */
  readonly dashboard?: boolean;
}

const NAMESPACE_RE = /^[^:$][^:]{0,254}$/;

function validateProps(props: AlbSyncProps, bindings: ResolvedBindingProps[], deployment: string): void {
  validateBindings(bindings);
  if (!Token.isUnresolved(deployment) && !/^[A-Za-z0-9_.-]{1,64}$/.test(deployment)) {
    throw new AlbSyncPropsError('deploymentName', `${JSON.stringify(deployment)} must be 1-64 characters of A-Za-z0-9-_.`);
  }
  if (props.workflowType === sfn.StateMachineType.EXPRESS && props.workflowLogLevel !== undefined && props.workflowLogLevel !== sfn.LogLevel.ALL) {
    throw new AlbSyncPropsError(
      'workflowLogLevel',
      `${props.workflowLogLevel} with EXPRESS would leave successful runs without any record (Express has no execution history); use ALL`,
    );
  }
  const n = props.failureAlarm?.evaluationPeriods ?? 5;
  const m = props.failureAlarm?.datapointsToAlarm ?? 3;
  if (!Number.isInteger(n) || n < 1 || n > 1440) {
    throw new AlbSyncPropsError('failureAlarm.evaluationPeriods', `${n} must be an integer in 1..1440`);
  }
  if (!Number.isInteger(m) || m < 1 || m > n) {
    throw new AlbSyncPropsError('failureAlarm.datapointsToAlarm', `${m} must be an integer in 1..${n} (evaluationPeriods)`);
  }
  for (const [i, e] of (props.alarmEmails ?? []).entries()) {
    if (!Token.isUnresolved(e) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e)) {
      throw new AlbSyncPropsError(`alarmEmails[${i}]`, `${JSON.stringify(e)} is not an e-mail address`);
    }
  }
  const schedule = props.schedule ?? Duration.minutes(1);
  if (!Token.isUnresolved(schedule.toSeconds())) {
    const s = schedule.toSeconds();
    if (s < 60 || s % 60 !== 0) {
      throw new AlbSyncPropsError('schedule', `${schedule.toHumanString()} must be a whole number of minutes, at least one`);
    }
  }
  const ns = props.metricNamespace ?? 'AlbSync';
  if (!Token.isUnresolved(ns)) {
    if (ns.startsWith('AWS/')) {
      throw new AlbSyncPropsError('metricNamespace', `${JSON.stringify(ns)} must not start with "AWS/" (reserved for AWS services)`);
    }
    if (!NAMESPACE_RE.test(ns)) {
      throw new AlbSyncPropsError('metricNamespace', `${JSON.stringify(ns)} must be 1-255 characters without ":" and not start with "$"`);
    }
  }
  if (props.workflowLogLevel === sfn.LogLevel.OFF) {
    throw new AlbSyncPropsError('workflowLogLevel', 'OFF would blind the SafetyRailTripped alarm; use FATAL, ERROR or ALL');
  }
  const mem = props.memorySize;
  if (mem !== undefined && (!Number.isInteger(mem) || mem < 128 || mem > 10240)) {
    throw new AlbSyncPropsError('memorySize', `${mem} must be an integer in 128..10240`);
  }
  const prefix = props.statePrefix ?? 'albsync/';
  if (!/^[A-Za-z0-9!_.*'()\-/]+\/$/.test(prefix) || prefix.startsWith('/')) {
    throw new AlbSyncPropsError('statePrefix', `${JSON.stringify(prefix)} must be a non-empty S3 key prefix ending with "/"`);
  }
  const retries = props.scheduleRetryAttempts;
  if (retries !== undefined && (!Number.isInteger(retries) || retries < 0 || retries > 185)) {
    throw new AlbSyncPropsError('scheduleRetryAttempts', `${retries} must be an integer in 0..185`);
  }
  if (props.dnsServer !== undefined && !/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}$/.test(props.dnsServer)) {
    throw new AlbSyncPropsError('dnsServer', `${JSON.stringify(props.dnsServer)} must be ip:port (IPv6 as [addr]:port)`);
  }
}

/**
 * albsync: keeps NLB IP target groups equal to the addresses of DNS names (typically internal ALBs).
 *
 * Composes {@link StateBucket}, {@link AlbSyncFunctions}, {@link Workflow}, {@link Schedules} and
 * {@link Alarms}. Props are validated at synthesis; an error names the prop.
 */
export class AlbSync extends Construct {
  public readonly stateBucket: StateBucket;
  public readonly functions: AlbSyncFunctions;
  public readonly workflow: Workflow;
  public readonly schedules: Schedules;
  public readonly alarms: Alarms;
  /** Where the alarms notify (given, or created). */
  public readonly alarmTopic: sns.ITopic;
  /** The namespace metrics are published in. */
  public readonly metricNamespace: string;
  /** The deployment name (SSM parameter `/albsync/<name>`, metric dimension `Deployment`). */
  public readonly deploymentName: string;
  /** The bindings with their ALB, target group and VPC resolved. */
  public readonly bindings: ResolvedBindingProps[];
  /** The published configuration (SSM parameter and outputs). */
  public readonly config: PublishedConfig;
  /** The functions' VPC placement, when they run in a VPC. */
  public readonly vpcPlacement?: VpcPlacement;
  /** The interface event path, when `interfaceEvents` is on. */
  public readonly events?: AlbSyncEvents;
  /** The dashboard, when `dashboard` is on. */
  public readonly dashboard?: AlbSyncDashboard;

  constructor(scope: Construct, id: string, props: AlbSyncProps) {
    super(scope, id);
    const resolved = resolveBindings(this, props.bindings);
    this.deploymentName = props.deploymentName ?? Stack.of(this).stackName;
    validateProps(props, resolved, this.deploymentName);
    const workflowType = props.workflowType ?? sfn.StateMachineType.STANDARD;
    const express = workflowType === sfn.StateMachineType.EXPRESS;
    const interval = props.schedule ?? Duration.minutes(1);
    // One slot is one schedule interval (grace counts at most once per slot); the Rust default of 60 s is right
    // only for the default one-minute schedule. Slots are at most an hour (binding.rs): a longer interval still
    // makes every run its own slot.
    const slot = Token.isUnresolved(interval.toSeconds()) ? undefined : Math.min(interval.toSeconds(), MAX_SLOT_SECONDS);
    this.bindings = resolved.map((b) => (b.slotSeconds === undefined && slot !== undefined ? { ...b, slotSeconds: slot } : b));
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const tracing = props.tracing ?? false;
    this.metricNamespace = props.metricNamespace ?? 'AlbSync';

    this.stateBucket = new StateBucket(this, 'State', {
      prefix: props.statePrefix ?? 'albsync/',
      noncurrentVersionExpiration: props.stateVersionRetention ?? Duration.days(30),
      removalPolicy,
    });

    if (props.vpcPlacement) {
      this.vpcPlacement = new VpcPlacement(this, 'Vpc', props.vpcPlacement, { ec2Endpoint: this.bindings.some((b) => b.eni !== undefined) });
    }

    this.functions = new AlbSyncFunctions(this, 'Functions', {
      deployment: this.deploymentName,
      vpc: this.vpcPlacement,
      code: props.code ?? FunctionCode.cargoLambda(),
      metricNamespace: this.metricNamespace,
      dnsServer: props.dnsServer,
      stateBucket: this.stateBucket.bucket,
      statePrefix: this.stateBucket.prefix,
      targetGroupArns: [...new Set(this.bindings.map((b) => b.targetGroupArn))],
      assumeRoleArns: this.bindings.flatMap((b) => (b.roleArn !== undefined ? [b.roleArn] : [])),
      logLevel: props.logLevel ?? lambda.ApplicationLogLevel.INFO,
      logRetention,
      memorySize: props.memorySize ?? 256,
      tracing,
      logRemovalPolicy: removalPolicy,
      eniSource: this.bindings.some((b) => b.eni !== undefined),
    });

    this.workflow = new Workflow(this, 'Workflow', {
      functions: this.functions,
      definitionPath: props.definitionPath ?? defaultDefinitionPath(),
      type: workflowType,
      logLevel: props.workflowLogLevel ?? (express ? sfn.LogLevel.ALL : sfn.LogLevel.ERROR),
      logRetention,
      tracing,
      logRemovalPolicy: removalPolicy,
    });

    this.schedules = new Schedules(this, 'Schedules', {
      stateMachine: this.workflow.stateMachine,
      bindings: this.bindings,
      interval,
      retryAttempts: props.scheduleRetryAttempts ?? 2,
    });

    this.alarmTopic = props.alarmTopic ?? new sns.Topic(this, 'AlarmTopic', { displayName: `albsync ${this.deploymentName} alarms`, enforceSSL: true });
    // A topic policy that holds only enforceSSL's Deny replaces SNS's default policy, and then nothing lets
    // CloudWatch publish: allow alarms of this account, and only them (confused deputy).
    // https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html
    const stack = Stack.of(this);
    const added = this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccountPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
        },
      }),
    );
    if (!added.statementAdded) {
      Annotations.of(this).addInfo(
        'AlbSync: the alarm topic is imported; its policy must allow cloudwatch.amazonaws.com to sns:Publish, else no alarm arrives',
      );
    }
    for (const email of props.alarmEmails ?? []) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(email));
    for (const sub of props.alarmSubscriptions ?? []) this.alarmTopic.addSubscription(sub);

    this.alarms = new Alarms(this, 'Alarms', {
      stateMachine: this.workflow.stateMachine,
      workflowLogGroup: this.workflow.logGroup,
      safetyRailErrors: failErrorsFor(this.workflow.definition, SAFETY_RAIL_ERROR),
      bindings: this.bindings,
      metricNamespace: this.metricNamespace,
      deployment: this.deploymentName,
      interval,
      topic: this.alarmTopic,
      failures: props.failureAlarm,
    });

    if (props.dashboard) {
      this.dashboard = new AlbSyncDashboard(this, 'Dashboard', {
        metricNamespace: this.metricNamespace,
        deployment: this.deploymentName,
        bindings: this.bindings.map((b) => b.name),
      });
    }
    if (props.interfaceEvents) {
      const withEni = this.bindings.filter((b) => b.eni !== undefined);
      if (withEni.length === 0) {
        throw new AlbSyncPropsError('interfaceEvents', 'needs at least one binding with an eni source');
      }
      this.events = new AlbSyncEvents(this, 'Events', {
        stateMachine: this.workflow.stateMachine,
        bindings: withEni.map((b) => ({ name: b.name, input: { ...executionInput(b) }, eni: eniNameAndId(b.eni!) })),
        code: props.code ?? FunctionCode.cargoLambda(),
        logRetention,
        removalPolicy,
      });
    }

    this.config = new PublishedConfig(this, 'Config', {
      schemaVersion: 1,
      deployment: this.deploymentName,
      stateMachineArn: this.workflow.stateMachine.stateMachineArn,
      workflowType: express ? 'EXPRESS' : 'STANDARD',
      workflowLogGroup: this.workflow.logGroup.logGroupName,
      stateBucket: this.stateBucket.bucket.bucketName,
      statePrefix: this.stateBucket.prefix,
      metricNamespace: this.metricNamespace,
      alarmTopicArn: this.alarmTopic.topicArn,
      bindings: this.bindings.map(executionInput),
    });
  }
}
