#!/usr/bin/env node
/**
 * The CDK app: the StaticIpExampleStack (VPC, internal ALB, NLB with static IPs, albsync), checked by cdk-nag.
 *
 * Context (`cdk synth -c key=value`):
 * - `albsync:codeDir`: directory of prebuilt bootstraps (`<dir>/<binary>/bootstrap`, the layout of
 *   `cargo lambda build --release --arm64`, normally `../target/lambda`). Absent: cargo-lambda builds at synth.
 * - `albsync:certificateArn`: ACM certificate ARN; the internal ALB then listens HTTPS on 443.
 * - `albsync:workflowType`: `STANDARD` (default) or `EXPRESS`.
 * - `albsync:stackName`: stack name (default `StaticIpExampleStack`).
 * - `albsync:alarmEmail`: e-mail address subscribed to the alarm topic.
 */
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FunctionCode } from '../lib/code';
import { StaticIpExampleStack } from '../lib/example-stack';

const app = new App();
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

const codeDir: string | undefined = app.node.tryGetContext('albsync:codeDir');
const certificateArn: string | undefined = app.node.tryGetContext('albsync:certificateArn');
const workflowType: string = (app.node.tryGetContext('albsync:workflowType') ?? 'STANDARD').toUpperCase();
if (workflowType !== 'STANDARD' && workflowType !== 'EXPRESS') {
  throw new Error(`context albsync:workflowType must be STANDARD or EXPRESS, not ${workflowType}`);
}

new StaticIpExampleStack(app, app.node.tryGetContext('albsync:stackName') ?? 'StaticIpExampleStack', {
  description: 'albsync example: static IPs (NLB + Elastic IPs) in front of an internal ALB, kept in sync by albsync',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  certificateArn: certificateArn || undefined,
  code: codeDir ? FunctionCode.prebuilt(path.resolve(codeDir)) : undefined,
  alarmEmail: app.node.tryGetContext('albsync:alarmEmail') || undefined,
  workflowType: workflowType === 'EXPRESS' ? sfn.StateMachineType.EXPRESS : sfn.StateMachineType.STANDARD,
});
