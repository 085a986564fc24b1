import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ResolvedBindingProps } from './binding';

/** The error name a tripped safety rail fails the execution with (docs/architecture.md). */
export const SAFETY_RAIL_ERROR = 'Albsync.SafetyRailTripped';
/** Metric the functions publish per run (Embedded Metric Format; dimensions `Deployment`, `Binding`). */
export const RESOLVED_ADDRESSES = 'ResolvedAddresses';
/** Metric the functions publish per run: addresses where DNS and the target group disagree. */
export const DRIFT = 'Drift';
/** Metric the safety-rail metric filter publishes (per deployment, see {@link safetyRailMetricName}). */
export const SAFETY_RAIL_METRIC = 'SafetyRailTripped';

/**
 * A log metric filter's dimensions can only come from fields of the log event, and a Step Functions log event
 * carries nothing per deployment but the execution ARN (one value per run: unusable as a dimension). So the
 * deployment goes into the metric name, and two stacks never feed each other's alarm.
 */
export function safetyRailMetricName(deployment: string): string {
  return `${SAFETY_RAIL_METRIC}-${deployment}`;
}

/** When the failed-executions alarm fires: M failed periods among the last N (one blip pages no one). */
export interface FailureAlarmProps {
  /**
   * N: how many of the most recent periods (one period = the schedule interval) are evaluated. 1-1440.
   * @default 5
   */
  readonly evaluationPeriods?: number;
  /**
   * M: how many of those N periods must hold a failed execution. 1..N.
   * @default 3
   */
  readonly datapointsToAlarm?: number;
}

/** Props of {@link Alarms}. */
export interface AlarmsProps {
  readonly stateMachine: sfn.StateMachine;
  /** The state machine's log group (level ERROR, FATAL or ALL: each logs ExecutionFailed). */
  readonly workflowLogGroup: logs.ILogGroup;
  /**
   * The `error` values of an ExecutionFailed event that mean "a safety rail tripped": Albsync.SafetyRailTripped
   * and the Error of the Fail state(s) the definition routes it to (see `failErrorsFor`).
   */
  readonly safetyRailErrors: string[];
  readonly bindings: readonly ResolvedBindingProps[];
  /** Namespace of the functions' metrics and of the safety-rail metric. */
  readonly metricNamespace: string;
  /** The deployment name (`Deployment` dimension, ALBSYNC_DEPLOYMENT of the functions). */
  readonly deployment: string;
  /** Interval between runs: the periods are derived from it. */
  readonly interval: Duration;
  /** Where alarm and OK notifications go. */
  readonly topic?: sns.ITopic;
  /** M of N for the failed-executions alarm. */
  readonly failures?: FailureAlarmProps;
}

/**
 * CloudWatch alarms, each notifying the topic on ALARM and OK:
 * - `ExecutionsFailed`: failed executions in M of the last N periods (default 3 of 5): a single DNS blip, retried
 *   and failed once, changes nothing and pages no one; a persistent failure does.
 * - `NoSuccessfulRun`: no execution succeeded for 10 minutes (AWS/States ExecutionsSucceeded, missing data is
 *   breaching: stopped schedules, a broken role, a deleted function all end here).
 * - per binding, `ResolvedAddresses` below 1 or not reported, and `Drift` above 0 for 5 minutes (dimensions
 *   `Deployment` and `Binding`).
 * - `SafetyRailTripped`: a metric filter on the state machine's log group counts ExecutionFailed events whose
 *   error is Albsync.SafetyRailTripped or the Error of the Fail state the definition catches it into. A log
 *   metric filter works for Standard and Express alike (Express workflows send no EventBridge status-change
 *   events) and needs no extra function.
 */
export class Alarms extends Construct {
  public readonly executionsFailed: cloudwatch.Alarm;
  public readonly noSuccessfulRun: cloudwatch.Alarm;
  public readonly safetyRail: cloudwatch.Alarm;
  /** Resolved-address alarms by binding name. */
  public readonly resolvedAddresses: Record<string, cloudwatch.Alarm> = {};
  /** Drift alarms by binding name. */
  public readonly drift: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const interval = props.interval;
    // At least 5 minutes, and at least three runs, so one slow run does not page anyone.
    const slow = Duration.seconds(Math.max(300, interval.toSeconds() * 3));
    const wire = (alarm: cloudwatch.Alarm) => {
      if (props.topic) {
        alarm.addAlarmAction(new actions.SnsAction(props.topic));
        alarm.addOkAction(new actions.SnsAction(props.topic));
      }
      return alarm;
    };
    const n = props.failures?.evaluationPeriods ?? 5;
    const m = props.failures?.datapointsToAlarm ?? 3;
    const prefix = `albsync ${props.deployment}`;

    // "M out of N" evaluation: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    this.executionsFailed = wire(
      new cloudwatch.Alarm(this, 'ExecutionsFailed', {
        alarmDescription: `${prefix}: executions failed in ${m} of the last ${n} periods of ${interval.toHumanString()} (see the state machine's log group and \`albsync executions\`).`,
        metric: props.stateMachine.metricFailed({ period: interval, statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: n,
        datapointsToAlarm: m,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    const quiet = Duration.seconds(Math.max(600, interval.toSeconds() * 2));
    this.noSuccessfulRun = wire(
      new cloudwatch.Alarm(this, 'NoSuccessfulRun', {
        alarmDescription: `${prefix}: no execution succeeded in ${quiet.toHumanString()} (schedules stopped, or every run fails).`,
        metric: props.stateMachine.metricSucceeded({ period: quiet, statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );

    const driftPeriods = Math.max(1, Math.ceil(300 / interval.toSeconds()));
    for (const b of props.bindings) {
      const dimensionsMap = { Deployment: props.deployment, Binding: b.name };
      this.resolvedAddresses[b.name] = wire(
        new cloudwatch.Alarm(this, `ResolvedAddresses-${b.name}`, {
          alarmDescription: `${prefix}: binding ${b.name} resolved no address, or stopped reporting ${RESOLVED_ADDRESSES}.`,
          metric: new cloudwatch.Metric({
            namespace: props.metricNamespace,
            metricName: RESOLVED_ADDRESSES,
            dimensionsMap,
            statistic: cloudwatch.Stats.MINIMUM,
            period: slow,
          }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        }),
      );
      this.drift[b.name] = wire(
        new cloudwatch.Alarm(this, `Drift-${b.name}`, {
          alarmDescription: `${prefix}: DNS and the target group of binding ${b.name} have disagreed for 5 minutes (\`albsync status --binding ${b.name}\`).`,
          metric: new cloudwatch.Metric({
            namespace: props.metricNamespace,
            metricName: DRIFT,
            dimensionsMap,
            statistic: cloudwatch.Stats.MINIMUM,
            period: interval,
          }),
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: driftPeriods,
          datapointsToAlarm: driftPeriods,
          // No data means no run: NoSuccessfulRun reports that.
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }

    const filter = new logs.MetricFilter(this, 'SafetyRailFilter', {
      logGroup: props.workflowLogGroup,
      // { $.type = "ExecutionFailed" && ($.details.error = "Albsync.SafetyRailTripped" || ... = "<Fail state Error>") }
      filterPattern: logs.FilterPattern.all(
        logs.FilterPattern.stringValue('$.type', '=', 'ExecutionFailed'),
        logs.FilterPattern.any(...props.safetyRailErrors.map((e) => logs.FilterPattern.stringValue('$.details.error', '=', e))),
      ),
      metricNamespace: props.metricNamespace,
      metricName: safetyRailMetricName(props.deployment),
      metricValue: '1',
    });
    this.safetyRail = wire(
      new cloudwatch.Alarm(this, 'SafetyRailTripped', {
        alarmDescription: `${prefix}: a safety rail refused a deregistration (${SAFETY_RAIL_ERROR}); DNS and the target group disagree badly.`,
        metric: filter.metric({ statistic: cloudwatch.Stats.SUM, period: slow }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  /** Every alarm. */
  public get all(): cloudwatch.Alarm[] {
    return [this.executionsFailed, this.noSuccessfulRun, ...Object.values(this.resolvedAddresses), ...Object.values(this.drift), this.safetyRail];
  }
}
