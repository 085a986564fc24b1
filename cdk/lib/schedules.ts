import { Duration, Validations } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { executionInput, ResolvedBindingProps } from './binding';

/** EventBridge Scheduler accepts a maximum event age of 60 s to 24 h. */
export const MIN_MAX_EVENT_AGE = Duration.seconds(60);

/**
 * Maximum event age for a schedule interval: shorter than the interval so a late start never overlaps the next
 * tick, but never below Scheduler's floor of 60 s. For the default one-minute interval this is the floor, 60 s
 * (equal to the interval); an overlap is then still harmless because the state document is written only with
 * If-Match on the ETag the run read: the loser fails with Albsync.StateConflict and changes nothing.
 */
export function maxEventAgeFor(interval: Duration): Duration {
  const seconds = interval.toSeconds() - 5;
  return Duration.seconds(Math.max(MIN_MAX_EVENT_AGE.toSeconds(), seconds));
}

/** Props of {@link Schedules}. */
export interface SchedulesProps {
  /** The state machine each schedule starts. */
  readonly stateMachine: sfn.IStateMachine;
  /** One schedule per binding; its input is the binding with defaults filled. */
  readonly bindings: readonly ResolvedBindingProps[];
  /** Interval between runs. */
  readonly interval: Duration;
  /** How often Scheduler retries a failed StartExecution before the event goes to the dead-letter queue. */
  readonly retryAttempts: number;
}

/**
 * One EventBridge Scheduler schedule per binding: `rate(interval)`, target StartExecution with the binding as
 * input, a retry policy, a maximum event age below the interval (see {@link maxEventAgeFor}) and an encrypted,
 * TLS-only SQS dead-letter queue for events Scheduler could not deliver.
 */
export class Schedules extends Construct {
  public readonly deadLetterQueue: sqs.Queue;
  /** Schedules by binding name. */
  public readonly schedules: Record<string, scheduler.Schedule> = {};

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the EventBridge Scheduler schedules (cdk-nag only recognises SQS redrive policies).',
    });

    const maxEventAge = maxEventAgeFor(props.interval);
    for (const b of props.bindings) {
      this.schedules[b.name] = new scheduler.Schedule(this, `Schedule-${b.name}`, {
        description: `albsync: sync binding ${b.name}`,
        schedule: scheduler.ScheduleExpression.rate(props.interval),
        timeWindow: scheduler.TimeWindow.off(),
        target: new targets.StepFunctionsStartExecution(props.stateMachine, {
          input: scheduler.ScheduleTargetInput.fromObject(executionInput(b)),
          retryAttempts: props.retryAttempts,
          maxEventAge,
          deadLetterQueue: this.deadLetterQueue,
        }),
      });
    }
  }
}
