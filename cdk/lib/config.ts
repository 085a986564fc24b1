import { CfnOutput, Stack } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ExecutionInput } from './binding';

/** Prefix of the SSM parameters the CLI discovers (`albsync --stack NAME` reads `/albsync/NAME`). */
export const CONFIG_PARAMETER_PREFIX = '/albsync/';

/**
 * The deployment's configuration, as the CLI reads it (crates/albsync-cli, `--stack`): where the state machine,
 * its log group and the state documents are, and every binding exactly as its schedule sends it.
 */
export interface DeploymentConfig {
  readonly schemaVersion: 1;
  readonly deployment: string;
  readonly stateMachineArn: string;
  readonly workflowType: 'STANDARD' | 'EXPRESS';
  readonly workflowLogGroup: string;
  readonly stateBucket: string;
  readonly statePrefix: string;
  readonly metricNamespace: string;
  readonly alarmTopicArn?: string;
  readonly bindings: ExecutionInput[];
}

/**
 * Publishes the configuration twice: an SSM parameter `/albsync/<deployment>` (JSON, read by the CLI) and stack
 * outputs (state machine, workflow type, bucket, prefix, log group, alarm topic, one output per binding).
 */
export class PublishedConfig extends Construct {
  public readonly parameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, config: DeploymentConfig) {
    super(scope, id);
    const stack = Stack.of(this);
    this.parameter = new ssm.StringParameter(this, 'Parameter', {
      parameterName: `${CONFIG_PARAMETER_PREFIX}${config.deployment}`,
      description: `albsync deployment ${config.deployment}: state machine, state bucket and bindings (read by the albsync CLI)`,
      stringValue: stack.toJsonString(config),
      // A standard parameter holds 4 KB; many bindings need more (advanced holds 8 KB). Intelligent tiering picks.
      // https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html
      tier: ssm.ParameterTier.INTELLIGENT_TIERING,
    });
    // Readable output names: the AlbSync construct's id, then the item (`AlbSyncStateMachineArn`).
    const owner = (this.node.scope?.node.id ?? 'AlbSync').replace(/[^A-Za-z0-9]/g, '');
    const out = (key: string, value: string, description: string) => new CfnOutput(this, key, { value, description, key: `${owner}${key}` });
    out('ConfigParameter', this.parameter.parameterName, 'SSM parameter with the albsync configuration (albsync --stack)');
    out('StateMachineArn', config.stateMachineArn, 'albsync state machine');
    out('WorkflowType', config.workflowType, 'STANDARD or EXPRESS');
    out('WorkflowLogGroup', config.workflowLogGroup, 'log group of the state machine');
    out('StateBucket', config.stateBucket, 'bucket of the state documents');
    out('StatePrefix', config.statePrefix, 'key prefix of the state documents');
    if (config.alarmTopicArn) out('AlarmTopicArn', config.alarmTopicArn, 'SNS topic of the albsync alarms');
    config.bindings.forEach((b, i) => out(`Binding${i + 1}`, stack.toJsonString(b), `albsync binding ${i + 1} (execution input)`));
  }
}
