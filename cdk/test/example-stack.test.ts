/**
 * The article's setup: HTTP variant (Standard workflow) and HTTPS variant (certificate, Express workflow), both
 * with prebuilt dummy bootstraps (the path CI uses with the real arm64 build). One app, synthesized once.
 */
import * as path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { FunctionCode } from '../lib/code';
import { StaticIpExampleStack } from '../lib/example-stack';
import { dummyCodeDir, logicalId, nagFindings, synthOnce, testApp, wildcardProblems } from './helpers';

const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
let http: StaticIpExampleStack;
let https: StaticIpExampleStack;
let th: Template;
let ts: Template;
let codeDir: string;

beforeAll(() => {
  codeDir = dummyCodeDir();
  const app = testApp();
  http = new StaticIpExampleStack(app, 'Http', { code: FunctionCode.prebuilt(codeDir) });
  https = new StaticIpExampleStack(app, 'Https', {
    code: FunctionCode.prebuilt(codeDir),
    certificateArn: CERT,
    workflowType: sfn.StateMachineType.EXPRESS,
  });
  const out = synthOnce(app, http, https);
  th = out.template(http);
  ts = out.template(https);
});

test('VPC in two zones: two public subnets (NLB) and two isolated subnets (ALB), no NAT', () => {
  th.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.0.0.0/16' });
  th.resourceCountIs('AWS::EC2::Subnet', 4);
  th.resourceCountIs('AWS::EC2::NatGateway', 0);
  th.resourceCountIs('AWS::EC2::FlowLog', 1);
});

test('internal ALB, reachable from the VPC only', () => {
  th.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'application', Scheme: 'internal' });
  th.hasResourceProperties('AWS::EC2::SecurityGroup', {
    SecurityGroupIngress: [{ CidrIp: '10.0.0.0/16', FromPort: 80, ToPort: 80, IpProtocol: 'tcp' }],
  });
  th.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Protocol: 'HTTP', Port: 80 });
});

test('internet-facing NLB with one Elastic IP per zone', () => {
  th.resourceCountIs('AWS::EC2::EIP', 2);
  const eips = http.elasticIps.map((e) => logicalId(e));
  const nlb = Object.values(th.findResources('AWS::ElasticLoadBalancingV2::LoadBalancer', { Properties: { Type: 'network' } })) as any[];
  expect(nlb).toHaveLength(1);
  expect(nlb[0].Properties.Scheme).toBe('internet-facing');
  expect(nlb[0].Properties.SubnetMappings.map((m: any) => m.AllocationId)).toEqual(eips.map((id) => ({ 'Fn::GetAtt': [id, 'AllocationId'] })));
  expect(nlb[0].Properties.Subnets).toBeUndefined();
});

test('TCP listener to an IP target group on the ALB port', () => {
  th.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
    Protocol: 'TCP',
    Port: 80,
    DefaultActions: [{ Type: 'forward', TargetGroupArn: { Ref: logicalId(http.targetGroup) } }],
  });
  th.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { TargetType: 'ip', Protocol: 'TCP', Port: 80 });
});

test('albsync is wired to the ALB DNS name, the target group and the VPC CIDR', () => {
  const schedules = Object.values(th.findResources('AWS::Scheduler::Schedule')) as any[];
  expect(schedules).toHaveLength(1);
  // The input holds tokens (ALB DNS name, target group ARN), so CloudFormation joins it.
  const input = JSON.stringify(schedules[0].Properties.Target.Input);
  expect(input).toContain(logicalId(http.alb));
  expect(input).toContain('DNSName');
  expect(input).toContain(logicalId(http.targetGroup));
  expect(input).toContain('10.0.0.0/16');
  th.hasResourceProperties('AWS::IAM::Policy', {
    PolicyDocument: { Statement: [
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalId(http.albSync.functions.register.logGroup), 'Arn'] }, Sid: 'OwnLogGroupOnly' },
      { Action: 'elasticloadbalancing:RegisterTargets', Effect: 'Allow', Resource: { Ref: logicalId(http.targetGroup) }, Sid: 'RegisterOnBoundTargetGroupsOnly' },
    ] },
  });
});

test('prebuilt bootstraps are the function code (one asset per binary)', () => {
  const assets = http.node.findAll().filter((c) => c.constructor.name === 'Asset' || c.constructor.name === 'AssetStaging');
  // Other assets (the custom resource of @aws-cdk/aws-ec2:restrictDefaultSecurityGroup) live elsewhere.
  const sources = assets.map((a: any) => a.sourcePath).filter(Boolean).map((p: string) => path.relative(codeDir, p)).filter((p: string) => !p.startsWith('..'));
  expect(sources.sort()).toEqual(['albsync-deregister', 'albsync-diff', 'albsync-register', 'albsync-resolve']);
});

test('outputs: the static IPs', () => {
  const outputs = th.findOutputs('*');
  expect(outputs.StaticIp1.Value).toEqual({ 'Fn::GetAtt': [logicalId(http.elasticIps[0]), 'PublicIp'] });
  expect(outputs.StaticIp2.Value).toEqual({ 'Fn::GetAtt': [logicalId(http.elasticIps[1]), 'PublicIp'] });
});

test('HTTPS variant: ALB listens HTTPS 443 with the certificate, NLB forwards TCP 443', () => {
  ts.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
    Protocol: 'HTTPS',
    Port: 443,
    Certificates: [{ CertificateArn: CERT }],
  });
  ts.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Protocol: 'TCP', Port: 443 });
  ts.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { TargetType: 'ip', Protocol: 'TCP', Port: 443 });
  ts.hasResourceProperties('AWS::EC2::SecurityGroup', {
    SecurityGroupIngress: [{ CidrIp: '10.0.0.0/16', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }],
  });
});

test('Express variant: EXPRESS state machine logging ALL with execution data, same alarms', () => {
  ts.hasResourceProperties('AWS::StepFunctions::StateMachine', {
    StateMachineType: 'EXPRESS',
    LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
  });
  th.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineType: 'STANDARD' });
  // failed, no success, safety rail; per binding: resolved addresses, drift.
  ts.resourceCountIs('AWS::CloudWatch::Alarm', 5);
});

test('alarms go to the topic AlbSync creates', () => {
  const topic = Object.keys(th.findResources('AWS::SNS::Topic'));
  expect(topic).toHaveLength(1);
  for (const a of Object.values(th.findResources('AWS::CloudWatch::Alarm')) as any[]) {
    expect(a.Properties.AlarmActions).toEqual([{ Ref: topic[0] }]);
  }
});

test('no unexpected `*` in any IAM statement', () => {
  expect(wildcardProblems(th)).toEqual([]);
  expect(wildcardProblems(ts)).toEqual([]);
});

test('cdk-nag AwsSolutions: no unacknowledged error or warning', () => {
  expect(nagFindings(http)).toEqual([]);
  expect(nagFindings(https)).toEqual([]);
});
