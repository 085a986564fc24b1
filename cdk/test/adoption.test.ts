/**
 * Adopting existing resources: an ALB and a target group that live elsewhere (by construct, imported, by ARN),
 * the VPC's CIDRs from an IVpc, the functions placed in a VPC with their endpoints. Synthesized once.
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { AlbSync } from '../lib/albsync';
import { FunctionCode } from '../lib/code';
import { dummyCodeDir, logicalId, nagFindings, testApp, TG_WEB, wildcardProblems } from './helpers';

const ALB_ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/api/0123456789abcdef';
const env = { account: '123456789012', region: 'us-east-1' };
let stack: Stack;
let sync: AlbSync;
let t: Template;
let missing: { key: string; provider: string; props: any }[];

beforeAll(() => {
  const app = testApp();
  stack = new Stack(app, 'Adopt', { env });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    vpcCidrBlock: '10.20.0.0/16',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'],
    privateSubnetRouteTableIds: ['rtb-0aaaaaaaaaaaaaaaa', 'rtb-0bbbbbbbbbbbbbbbb'],
  });
  const alb = elbv2.ApplicationLoadBalancer.fromApplicationLoadBalancerAttributes(stack, 'Alb', {
    loadBalancerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/fedcba9876543210',
    securityGroupId: 'sg-0123456789abcdef0',
    loadBalancerDnsName: 'internal-web-1.us-east-1.elb.amazonaws.com',
  });
  const tg = elbv2.NetworkTargetGroup.fromTargetGroupAttributes(stack, 'Tg', { targetGroupArn: TG_WEB });
  sync = new AlbSync(stack, 'AlbSync', {
    code: FunctionCode.prebuilt(dummyCodeDir()),
    bindings: [
      { name: 'web', alb, port: 443, targetGroup: tg, vpc, vpcCidrs: ['100.64.0.0/16'] },
      { name: 'api', albArn: ALB_ARN, port: 8443, targetGroupArn: TG_WEB.replace('web/0123', 'api/0123'), vpc },
    ],
    vpcPlacement: { vpc },
  });
  const asm = app.synth();
  t = Template.fromJSON(asm.getStackArtifact(stack.artifactId).template);
  missing = (asm.manifest.missing ?? []) as any;
});

const inputs = () => (Object.values(t.findResources('AWS::Scheduler::Schedule')) as any[]).map((s) => s.Properties.Target.Input);

test('an imported ALB gives its DNS name, an imported target group its ARN, an IVpc its CIDR (plus extra blocks)', () => {
  const web = JSON.parse(inputs()[0]);
  expect(web).toMatchObject({
    name: 'web',
    dnsName: 'internal-web-1.us-east-1.elb.amazonaws.com',
    targetGroupArn: TG_WEB,
    vpcCidrs: ['10.20.0.0/16', '100.64.0.0/16'],
  });
});

test('an ALB by ARN is looked up at synthesis (cdk.context.json caches the answer)', () => {
  const lookups = missing.filter((m) => m.provider === 'load-balancer');
  expect(lookups).toHaveLength(1);
  expect(lookups[0].props).toMatchObject({ loadBalancerArn: ALB_ARN, loadBalancerType: 'application', account: env.account, region: env.region });
  // Without cached context the lookup answers CDK's dummy load balancer; the input carries whatever it answers.
  const api = JSON.parse(inputs()[1]);
  expect(api.dnsName).toMatch(/\.elb\.amazonaws\.com$/);
  expect(api.vpcCidrs).toEqual(['10.20.0.0/16']);
});

test('functions in the VPC subnets, with a security group, no managed policy, ENI actions granted', () => {
  for (const fn of sync.functions.all) {
    const res = t.findResources('AWS::Lambda::Function')[logicalId(fn)];
    expect(res.Properties.VpcConfig.SubnetIds).toEqual(['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb']);
    expect(res.Properties.VpcConfig.SecurityGroupIds).toHaveLength(1);
  }
  for (const role of Object.values(t.findResources('AWS::IAM::Role')) as any[]) {
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  }
  const eni = (Object.values(t.findResources('AWS::IAM::Policy')) as any[]).filter((p) =>
    JSON.stringify(p.Properties.PolicyDocument).includes('ec2:CreateNetworkInterface'),
  );
  expect(eni).toHaveLength(4);
  expect(wildcardProblems(t)).toEqual([]);
});

test('VPC endpoints: S3 gateway; ELB, CloudWatch, Logs and STS interface endpoints reachable from the functions only', () => {
  t.resourceCountIs('AWS::EC2::VPCEndpoint', 5);
  t.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({}) });
  for (const svc of ['elasticloadbalancing', 'monitoring', 'logs', 'sts']) {
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Interface', ServiceName: `com.amazonaws.us-east-1.${svc}`, PrivateDnsEnabled: true });
  }
  const ingress = (Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')) as any[]).map((r) => r.Properties);
  expect(ingress.length).toBeGreaterThanOrEqual(4);
  for (const r of ingress) {
    expect(r).toMatchObject({ FromPort: 443, ToPort: 443, IpProtocol: 'tcp' });
    expect(r.SourceSecurityGroupId).toBeDefined();
    expect(r.CidrIp).toBeUndefined();
  }
});

test('cdk-nag AwsSolutions: no unacknowledged error or warning', () => {
  expect(nagFindings(stack)).toEqual([]);
});
