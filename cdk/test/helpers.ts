import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { ResolvedBindingProps } from '../lib/binding';
import { FUNCTION_BINARIES } from '../lib/code';

/** The feature flags of cdk.json (the recommended set): tests synthesize what `cdk deploy` would. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context;

/** An App with cdk.json's feature flags that skips asset bundling: RustFunction never runs cargo-lambda (nor Docker). */
export function testApp(): App {
  return new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
}

/** A temp directory laid out like `target/lambda` (`<binary>/bootstrap`) with dummy bootstraps. */
export function dummyCodeDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'albsync-code-'));
  for (const bin of FUNCTION_BINARIES) {
    fs.mkdirSync(path.join(dir, bin));
    fs.writeFileSync(path.join(dir, bin, 'bootstrap'), `#!/bin/sh\necho dummy ${bin}\n`, { mode: 0o755 });
  }
  return dir;
}

/** Synthesizes the whole app once and returns each stack's template and messages. */
export function synthOnce(app: App, ...stacks: Stack[]): { template: (s: Stack) => Template; messages: (s: Stack) => { level: string; entry: { data: unknown } }[] } {
  const asm = app.synth();
  const byName = new Map(stacks.map((s) => [s.artifactId, asm.getStackArtifact(s.artifactId)]));
  return {
    template: (s) => Template.fromJSON(byName.get(s.artifactId)!.template),
    messages: (s) => byName.get(s.artifactId)!.messages as { level: string; entry: { data: unknown } }[],
  };
}

/** cdk-nag AwsSolutions findings (errors and warnings) left after acknowledgements. */
export function nagFindings(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} ${r.constructPath}`));
}

export const TG_WEB = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef';
export const TG_API = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/fedcba9876543210';

/** Two bindings: one with every default, one with every option. */
export const BINDINGS: ResolvedBindingProps[] = [
  {
    name: 'web',
    dnsName: 'internal-web-1234.us-east-1.elb.amazonaws.com',
    port: 443,
    targetGroupArn: TG_WEB,
    vpcCidrs: ['10.0.0.0/16'],
  },
  {
    name: 'api-2',
    dnsName: 'internal-api-99.eu-west-1.elb.amazonaws.com',
    port: 8443,
    targetGroupArn: TG_API,
    graceRuns: 5,
    allowedCidrs: ['10.1.0.0/16'],
    vpcCidrs: [],
    lookup: { maxQueries: 50 },
    maxDeregistrationsPerRun: 2,
  },
];

/** A resource's logical id by its construct. */
export function logicalId(c: IConstruct): string {
  const stack = Stack.of(c);
  const child = (c.node.defaultChild ?? c) as any;
  return stack.resolve(child.logicalId);
}

/** Every statement of every AWS::IAM::Policy (and inline role policy) in a template, with the policy's id. */
export function allStatements(t: Template): { policy: string; roles: unknown; statement: any }[] {
  const out: { policy: string; roles: unknown; statement: any }[] = [];
  for (const [id, res] of Object.entries(t.findResources('AWS::IAM::Policy'))) {
    for (const s of (res as any).Properties.PolicyDocument.Statement) out.push({ policy: id, roles: (res as any).Properties.Roles, statement: s });
  }
  for (const [id, res] of Object.entries(t.findResources('AWS::IAM::Role'))) {
    for (const p of (res as any).Properties.Policies ?? []) {
      for (const s of p.PolicyDocument.Statement) out.push({ policy: `${id}/${p.PolicyName}`, roles: [{ Ref: id }], statement: s });
    }
  }
  return out;
}

/** The statements of the (default) policy attached to a role. */
export function statementsOfRole(t: Template, roleLogicalId: string): any[] {
  return allStatements(t)
    .filter((s) => JSON.stringify(s.roles).includes(JSON.stringify({ Ref: roleLogicalId })))
    .map((s) => s.statement);
}

export const asArray = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

/**
 * The documented exceptions to "no `*` resource", each with why:
 * - DescribeTargetHealth: no resource-level permission exists for it.
 * - X-Ray: PutTraceSegments/PutTelemetryRecords/GetSampling* have no resource-level permission (tracing only).
 * - CloudWatch Logs delivery (state machine role only): Step Functions sets up vended log delivery with
 *   these account-level actions, which have no resource-level permission; CDK adds them for `logs`.
 * - DescribeNetworkInterfaces (diff, register, deregister; bindings with an `eni` source): no resource-level
 *   permission.
 */
export const WILDCARD_EXCEPTIONS: { why: string; actions: string[]; needsCondition?: string }[] = [
  { why: 'DescribeTargetHealth has no resource-level permission', actions: ['elasticloadbalancing:DescribeTargetHealth'] },
  {
    why: 'X-Ray has no resource-level permission',
    actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'],
  },
  {
    why: 'log delivery set-up of Step Functions logging has no resource-level permission',
    actions: [
      'logs:CreateLogDelivery',
      'logs:GetLogDelivery',
      'logs:UpdateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:DescribeResourcePolicies',
      'logs:DescribeLogGroups',
    ],
  },
  {
    why: 'Lambda in a VPC manages its network interfaces; DescribeNetworkInterfaces works only on *',
    actions: [
      'ec2:CreateNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSubnets',
      'ec2:DeleteNetworkInterface',
      'ec2:AssignPrivateIpAddresses',
      'ec2:UnassignPrivateIpAddresses',
    ],
  },
  { why: 'DescribeNetworkInterfaces has no resource-level permission', actions: ['ec2:DescribeNetworkInterfaces'] },
];

/** Problems with `*` in a template's IAM statements: unexpected `*` resources and wildcard actions. */
export function wildcardProblems(t: Template): string[] {
  const problems: string[] = [];
  for (const { policy, statement } of allStatements(t)) {
    const actions = asArray(statement.Action) as string[];
    for (const a of actions) if (a.includes('*')) problems.push(`${policy}: wildcard action ${a}`);
    if (statement.Effect !== 'Allow') continue;
    const resources = asArray(statement.Resource);
    // A `*` inside an ARN is allowed only for the state documents: objects under the state prefix.
    for (const r of resources) {
      if (r !== '*' && JSON.stringify(r).includes('*') && !actions.every((a) => a === 's3:GetObject' || a === 's3:PutObject')) {
        problems.push(`${policy}: wildcard in resource ${JSON.stringify(r)} for ${actions.join(', ')}`);
      }
    }
    if (!resources.includes('*')) continue;
    // Each action must be a documented exception (the minimizePolicies feature flag merges statements, so one
    // statement may hold actions of several exceptions).
    const ok = actions.every((a) =>
      WILDCARD_EXCEPTIONS.some(
        (e) => e.actions.includes(a) && (!e.needsCondition || JSON.stringify(statement.Condition ?? {}).includes(e.needsCondition)),
      ),
    );
    if (!ok) problems.push(`${policy}: unexpected Resource "*" for ${actions.join(', ')}`);
  }
  return problems;
}
