import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { Alarms, SAFETY_RAIL_ERROR } from './alarms';
import { AlbSyncPropsError, BindingProps, validateBindings } from './binding';
import { FunctionCode } from './code';
import { AlbSyncFunctions } from './functions';
import { Schedules } from './schedules';
import { StateBucket } from './state-bucket';
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
   * from this log. ALL logs every state of every run (costly at one run a minute).
   * @default sfn.LogLevel.ERROR
   */
  readonly workflowLogLevel?: sfn.LogLevel;

  /**
   * Retention of every log group (the four functions' and the state machine's).
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * Where alarm and OK notifications go.
   * @default - alarms are created without actions
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * CloudWatch namespace of `ResolvedAddressCount` (dimension `Binding`) and `SafetyRailTripped`. Must not start
   * with `AWS/` (reserved for AWS services). PutMetricData is granted in this namespace only.
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
}

const NAMESPACE_RE = /^[^:$][^:]{0,254}$/;

function validateProps(props: AlbSyncProps): void {
  validateBindings(props.bindings);
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
  /** The namespace metrics are published in. */
  public readonly metricNamespace: string;

  constructor(scope: Construct, id: string, props: AlbSyncProps) {
    super(scope, id);
    validateProps(props);
    const interval = props.schedule ?? Duration.minutes(1);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const tracing = props.tracing ?? false;
    this.metricNamespace = props.metricNamespace ?? 'AlbSync';

    this.stateBucket = new StateBucket(this, 'State', {
      prefix: props.statePrefix ?? 'albsync/',
      noncurrentVersionExpiration: props.stateVersionRetention ?? Duration.days(30),
      removalPolicy,
    });

    this.functions = new AlbSyncFunctions(this, 'Functions', {
      code: props.code ?? FunctionCode.cargoLambda(),
      metricNamespace: this.metricNamespace,
      dnsServer: props.dnsServer,
      stateBucket: this.stateBucket.bucket,
      statePrefix: this.stateBucket.prefix,
      targetGroupArns: [...new Set(props.bindings.map((b) => b.targetGroupArn))],
      logLevel: props.logLevel ?? lambda.ApplicationLogLevel.INFO,
      logRetention,
      memorySize: props.memorySize ?? 256,
      tracing,
      logRemovalPolicy: removalPolicy,
    });

    this.workflow = new Workflow(this, 'Workflow', {
      functions: this.functions,
      definitionPath: props.definitionPath ?? defaultDefinitionPath(),
      type: props.workflowType ?? sfn.StateMachineType.STANDARD,
      logLevel: props.workflowLogLevel ?? sfn.LogLevel.ERROR,
      logRetention,
      tracing,
      logRemovalPolicy: removalPolicy,
    });

    this.schedules = new Schedules(this, 'Schedules', {
      stateMachine: this.workflow.stateMachine,
      bindings: props.bindings,
      interval,
      retryAttempts: props.scheduleRetryAttempts ?? 2,
    });

    this.alarms = new Alarms(this, 'Alarms', {
      stateMachine: this.workflow.stateMachine,
      workflowLogGroup: this.workflow.logGroup,
      safetyRailErrors: failErrorsFor(this.workflow.definition, SAFETY_RAIL_ERROR),
      bindings: props.bindings,
      metricNamespace: this.metricNamespace,
      interval,
      topic: props.alarmTopic,
    });
  }
}
