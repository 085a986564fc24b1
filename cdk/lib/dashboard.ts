import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';

/**
 * The in-sync metrics the functions write as EMF lines (crates/albsync-core/src/metrics.rs, published as
 * statemachine/metrics.json; a jest test checks these names against that file). Unit Count, dimensions below.
 */
export const EMF_METRICS = {
  resolvedAddresses: 'ResolvedAddresses',
  registeredTargets: 'RegisteredTargets',
  healthyTargets: 'HealthyTargets',
  pendingAddresses: 'PendingAddresses',
  maxPendingMisses: 'MaxPendingMisses',
  drift: 'Drift',
} as const;
/** The one dimension set of every EMF metric. */
export const EMF_DIMENSIONS = ['Deployment', 'Binding'] as const;

/** One EMF metric of one binding: `Deployment` is the functions' ALBSYNC_DEPLOYMENT (default: the stack name). */
export function emfMetric(
  scope: Construct,
  namespace: string,
  binding: string,
  name: (typeof EMF_METRICS)[keyof typeof EMF_METRICS],
  statistic: string,
  period: Duration = Duration.minutes(1),
  deployment: string = Stack.of(scope).stackName,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace,
    metricName: name,
    dimensionsMap: { Deployment: deployment, Binding: binding },
    statistic,
    period,
    label: `${binding} ${name}`,
  });
}

/** Props of {@link AlbSyncDashboard}. */
export interface AlbSyncDashboardProps {
  /** The metric namespace (ALBSYNC_METRIC_NAMESPACE). */
  readonly metricNamespace: string;
  /** Binding names. */
  readonly bindings: readonly string[];
  /**
   * The deployment name (the functions' ALBSYNC_DEPLOYMENT, the `Deployment` dimension).
   * @default - the stack name
   */
  readonly deployment?: string;
  /** Dashboard name (default `<stack name>-albsync`). */
  readonly dashboardName?: string;
}

/**
 * One CloudWatch dashboard per deployment: per binding, whether the target group is in sync (drift now, and
 * over time), its registered and healthy targets against what DNS answered, and the addresses counting towards
 * removal with their highest miss count. What an operator opens instead of reading logs.
 */
export class AlbSyncDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: AlbSyncDashboardProps) {
    super(scope, id);
    const ns = props.metricNamespace;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `${Stack.of(this).stackName}-albsync`,
      defaultInterval: Duration.hours(3),
    });
    for (const b of props.bindings) {
      const m = (name: (typeof EMF_METRICS)[keyof typeof EMF_METRICS], stat: string) =>
        emfMetric(this, ns, b, name, stat, Duration.minutes(1), props.deployment ?? Stack.of(this).stackName);
      this.dashboard.addWidgets(
        new cloudwatch.TextWidget({ markdown: `## ${b}`, width: 24, height: 1 }),
        new cloudwatch.SingleValueWidget({
          title: `${b}: drift now (0 = in sync)`,
          metrics: [m(EMF_METRICS.drift, cloudwatch.Stats.MAXIMUM)],
          width: 6,
          height: 6,
        }),
        new cloudwatch.GraphWidget({
          title: `${b}: targets`,
          left: [
            m(EMF_METRICS.resolvedAddresses, cloudwatch.Stats.MAXIMUM),
            m(EMF_METRICS.registeredTargets, cloudwatch.Stats.MINIMUM),
            m(EMF_METRICS.healthyTargets, cloudwatch.Stats.MINIMUM),
          ],
          leftYAxis: { min: 0 },
          width: 6,
          height: 6,
        }),
        new cloudwatch.GraphWidget({
          title: `${b}: drift`,
          left: [m(EMF_METRICS.drift, cloudwatch.Stats.MAXIMUM)],
          leftYAxis: { min: 0 },
          width: 6,
          height: 6,
        }),
        new cloudwatch.GraphWidget({
          title: `${b}: counting towards removal`,
          left: [m(EMF_METRICS.pendingAddresses, cloudwatch.Stats.MAXIMUM)],
          right: [m(EMF_METRICS.maxPendingMisses, cloudwatch.Stats.MAXIMUM)],
          leftYAxis: { min: 0 },
          rightYAxis: { min: 0 },
          width: 6,
          height: 6,
        }),
      );
    }
  }
}
