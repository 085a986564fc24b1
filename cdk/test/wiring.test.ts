/**
 * Issue 12's constructs wired into AlbSync: a binding with an `eni` source, `interfaceEvents` and `dashboard` on,
 * a deployment name other than the stack name. Synthesized once. The metric names and dimensions the alarms and
 * the dashboard read are checked against statemachine/metrics.json (generated from the Rust metric list).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AlbSync } from '../lib/albsync';
import { executionInput } from '../lib/binding';
import { FunctionCode } from '../lib/code';
import { BINDINGS, dummyCodeDir, logicalId, nagFindings, statementsOfRole, synthOnce, testApp, wildcardProblems } from './helpers';

const published = JSON.parse(fs.readFileSync(path.join(__dirname, '../../statemachine/metrics.json'), 'utf8')) as {
  dimensions: string[];
  metrics: { name: string }[];
};
const ALB_ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188';

let stack: Stack;
let sync: AlbSync;
let t: Template;

beforeAll(() => {
  const app = testApp();
  stack = new Stack(app, 'AlbSyncWiring');
  sync = new AlbSync(stack, 'AlbSync', {
    bindings: [{ ...BINDINGS[0], eni: { loadBalancerArn: ALB_ARN } }, BINDINGS[1]],
    code: FunctionCode.prebuilt(dummyCodeDir()),
    deploymentName: 'prod-web',
    interfaceEvents: true,
    dashboard: true,
  });
  t = synthOnce(app, stack).template(stack);
});

const roleOf = (fn: { role?: unknown }) => logicalId((fn.role as any).node.defaultChild.node.scope);

test('no function may call PutMetricData: the metrics are EMF log lines', () => {
  expect(JSON.stringify(t.toJSON())).not.toContain('cloudwatch:PutMetricData');
});

test('with an eni binding, diff, register and deregister (and only they) may DescribeNetworkInterfaces', () => {
  const has = (fn: any) =>
    statementsOfRole(t, roleOf(fn)).some((s) => [s.Action].flat().includes('ec2:DescribeNetworkInterfaces'));
  for (const fn of [sync.functions.diff, sync.functions.register, sync.functions.deregister]) expect(has(fn)).toBe(true);
  for (const fn of [sync.functions.resolve, sync.events!.trigger]) expect(has(fn)).toBe(false);
});

test('without an eni binding, no DescribeNetworkInterfaces anywhere', () => {
  const app = testApp();
  const s = new Stack(app, 'NoEni');
  new AlbSync(s, 'AlbSync', { bindings: BINDINGS, code: FunctionCode.prebuilt(dummyCodeDir()) });
  expect(JSON.stringify(synthOnce(app, s).template(s).toJSON())).not.toContain('ec2:DescribeNetworkInterfaces');
});

test('the trigger is the prebuilt albsync-trigger, starts only this state machine, with the eni bindings\' schedule input', () => {
  const trigger = t.findResources('AWS::Lambda::Function')[logicalId(sync.events!.trigger)];
  expect(trigger.Properties).toMatchObject({ Architectures: ['arm64'], Runtime: 'provided.al2023', Handler: 'bootstrap' });
  const env = trigger.Properties.Environment.Variables;
  expect(env.ALBSYNC_STATE_MACHINE_ARN).toEqual({ Ref: logicalId(sync.workflow.stateMachine) });
  expect(JSON.parse(env.ALBSYNC_BINDINGS)).toEqual([executionInput(sync.bindings[0])]);
  const start = statementsOfRole(t, roleOf(sync.events!.trigger)).filter((s) => JSON.stringify(s.Action).includes('states:'));
  expect(start).toEqual([expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: logicalId(sync.workflow.stateMachine) } })]);
});

test('the creation rule matches the ALB of the ARN (split into name and id)', () => {
  const rules = Object.values(t.findResources('AWS::Events::Rule')) as any[];
  const created = rules.filter((r) => r.Properties.EventPattern.detail.eventName?.[0] === 'CreateNetworkInterface');
  expect(created).toHaveLength(1);
  expect(created[0].Properties.EventPattern.detail.requestParameters.description).toEqual(['ELB app/web/50dc6c495c0c9188']);
});

test('interfaceEvents without any eni binding is refused', () => {
  const s = new Stack(testApp(), 'Bad');
  expect(() => new AlbSync(s, 'AlbSync', { bindings: BINDINGS, code: FunctionCode.prebuilt(dummyCodeDir()), interfaceEvents: true })).toThrow(
    /`interfaceEvents`: needs at least one binding with an eni source/,
  );
});

test('alarms read exactly the published EMF names and dimensions, with the deployment name', () => {
  const names = published.metrics.map((m) => m.name);
  const alarms = (Object.values(t.findResources('AWS::CloudWatch::Alarm')) as any[]).filter((a) => a.Properties.Namespace === 'AlbSync' && a.Properties.Dimensions);
  // ResolvedAddresses and Drift per binding.
  expect(alarms.map((a) => a.Properties.MetricName).sort()).toEqual(['Drift', 'Drift', 'ResolvedAddresses', 'ResolvedAddresses']);
  for (const a of alarms) {
    expect(names).toContain(a.Properties.MetricName);
    // A metric's dimension set is unordered in CloudWatch.
    expect(a.Properties.Dimensions.map((d: any) => d.Name).sort()).toEqual([...published.dimensions].sort());
    expect(a.Properties.Dimensions.find((d: any) => d.Name === 'Deployment').Value).toBe('prod-web');
  }
});

test('the dashboard plots only published metrics, keyed by the deployment name (not the stack name)', () => {
  const body = JSON.stringify(t.findResources('AWS::CloudWatch::Dashboard'));
  expect(Object.keys(t.findResources('AWS::CloudWatch::Dashboard'))).toHaveLength(1);
  for (const b of sync.bindings) expect(body).toContain(`\\"${b.name}\\"`);
  expect(body).toContain('prod-web');
  expect(body).not.toContain('AlbSyncWiring\\"');
  const used = [...body.matchAll(/\\"AlbSync\\",\\"([A-Za-z]+)\\"/g)].map((m) => m[1]);
  expect(used.length).toBeGreaterThan(0);
  for (const n of used) expect(published.metrics.map((m) => m.name)).toContain(n);
});

test('IAM: no unexpected wildcards; cdk-nag AwsSolutions clean', () => {
  expect(wildcardProblems(t)).toEqual([]);
  expect(nagFindings(stack)).toEqual([]);
});

test('in a VPC with endpoints, an eni binding adds the EC2 endpoint (DescribeNetworkInterfaces); without one, none', () => {
  const ec2Endpoints = (eni: boolean) => {
    const app = testApp();
    const s = new Stack(app, eni ? 'VpcEni' : 'VpcNoEni', { env: { account: '123456789012', region: 'us-east-1' } });
    const vpc = new ec2.Vpc(s, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const bindings = eni ? [{ ...BINDINGS[0], eni: { loadBalancerArn: ALB_ARN } }] : [BINDINGS[0]];
    new AlbSync(s, 'AlbSync', { bindings, code: FunctionCode.prebuilt(dummyCodeDir()), vpcPlacement: { vpc } });
    const endpoints = Object.values(synthOnce(app, s).template(s).findResources('AWS::EC2::VPCEndpoint')) as any[];
    return endpoints.filter((e) => JSON.stringify(e.Properties.ServiceName).endsWith('.ec2"')).length;
  };
  expect(ec2Endpoints(true)).toBe(1);
  expect(ec2Endpoints(false)).toBe(0);
});
