import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { BindingProps } from './binding';

/** The error name a tripped safety rail fails the execution with (docs/architecture.md). */
export const SAFETY_RAIL_ERROR = 'Albsync.SafetyRailTripped';
/** Metric published by the resolve function (dimension `Binding`). */
export const RESOLVED_ADDRESS_COUNT = 'ResolvedAddressCount';
/** Metric the safety-rail metric filter publishes. */
export const SAFETY_RAIL_METRIC = 'SafetyRailTripped';

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
  readonly bindings: readonly BindingProps[];
  /** Namespace of ResolvedAddressCount and SafetyRailTripped. */
  readonly metricNamespace: string;
  /** Interval between runs: the evaluation period is derived from it. */
  readonly interval: Duration;
  /** Where alarm and OK notifications go. */
  readonly topic?: sns.ITopic;
}

/**
 * CloudWatch alarms:
 * - `ExecutionsFailed`: any failed execution in a period.
 * - per binding, `ResolvedAddressCount` below 1 or not reported (missing data is breaching): DNS lost the
 *   name, or the runs stopped.
 * - `SafetyRailTripped`: a metric filter on the state machine's log group counts ExecutionFailed events whose
 *   error is Albsync.SafetyRailTripped or the Error of the Fail state the definition catches it into. A log
 *   metric filter works for Standard and Express alike (Express workflows send no EventBridge status-change
 *   events) and needs no extra function.
 */
export class Alarms extends Construct {
  public readonly executionsFailed: cloudwatch.Alarm;
  public readonly safetyRail: cloudwatch.Alarm;
  /** Resolved-address alarms by binding name. */
  public readonly resolvedAddresses: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    // At least 5 minutes, and at least three runs, so one slow run does not page anyone.
    const period = Duration.seconds(Math.max(300, props.interval.toSeconds() * 3));
    const wire = (alarm: cloudwatch.Alarm) => {
      if (props.topic) {
        alarm.addAlarmAction(new actions.SnsAction(props.topic));
        alarm.addOkAction(new actions.SnsAction(props.topic));
      }
      return alarm;
    };

    this.executionsFailed = wire(
      new cloudwatch.Alarm(this, 'ExecutionsFailed', {
        alarmDescription: 'albsync: an execution of the state machine failed (see its log group and execution history).',
        metric: props.stateMachine.metricFailed({ period, statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    for (const b of props.bindings) {
      this.resolvedAddresses[b.name] = wire(
        new cloudwatch.Alarm(this, `ResolvedAddressCount-${b.name}`, {
          alarmDescription: `albsync: binding ${b.name} resolved no address, or stopped reporting ${RESOLVED_ADDRESS_COUNT}.`,
          metric: new cloudwatch.Metric({
            namespace: props.metricNamespace,
            metricName: RESOLVED_ADDRESS_COUNT,
            dimensionsMap: { Binding: b.name },
            statistic: cloudwatch.Stats.MINIMUM,
            period,
          }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
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
      metricName: SAFETY_RAIL_METRIC,
      metricValue: '1',
    });
    this.safetyRail = wire(
      new cloudwatch.Alarm(this, 'SafetyRailTripped', {
        alarmDescription: `albsync: a safety rail refused a deregistration (${SAFETY_RAIL_ERROR}); DNS and the target group disagree badly.`,
        metric: filter.metric({ statistic: cloudwatch.Stats.SUM, period }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  /** Every alarm. */
  public get all(): cloudwatch.Alarm[] {
    return [this.executionsFailed, ...Object.values(this.resolvedAddresses), this.safetyRail];
  }
}
