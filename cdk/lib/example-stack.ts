import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { AlbSync } from './albsync';
import { FunctionCode } from './code';

/** Props of {@link StaticIpExampleStack}. */
export interface StaticIpExampleStackProps extends StackProps {
  /**
   * ACM certificate for the internal ALB. Given: the ALB listens HTTPS on 443 and the NLB forwards TCP 443
   * (TLS ends at the ALB). Not given: HTTP on 80.
   * @default - HTTP on port 80
   */
  readonly certificateArn?: string;
  /**
   * CIDR block of the example VPC (a literal, so the ALB's security group rule and albsync's `vpcCidrs` are plain
   * values).
   * @default '10.0.0.0/16'
   */
  readonly vpcCidr?: string;
  /**
   * Code of the albsync functions.
   * @default FunctionCode.cargoLambda()
   */
  readonly code?: FunctionCode;
  /**
   * Workflow type of albsync.
   * @default sfn.StateMachineType.STANDARD
   */
  readonly workflowType?: sfn.StateMachineType;
  /**
   * What happens to albsync's state bucket and log groups when the stack is deleted.
   * @default RemovalPolicy.RETAIN (AlbSync's default)
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * E-mail address subscribed to albsync's alarm topic.
   * @default - no subscription
   */
  readonly alarmEmail?: string;
}

/**
 * The setup of the AWS article "Using static IP addresses for Application Load Balancers": a VPC in two zones,
 * an internal ALB, an internet-facing NLB with one Elastic IP per zone whose TCP listener forwards to an IP
 * target group, and albsync keeping that target group equal to the ALB's addresses.
 *
 * Limits (see the README): the backend sees the ALB's address, not the client's; Proxy Protocol v2 on the
 * target group breaks the connection because the ALB does not accept it.
 */
export class StaticIpExampleStack extends Stack {
  public readonly vpc: ec2.Vpc;
  public readonly alb: elbv2.ApplicationLoadBalancer;
  public readonly nlb: elbv2.NetworkLoadBalancer;
  public readonly targetGroup: elbv2.NetworkTargetGroup;
  public readonly albSync: AlbSync;
  public readonly elasticIps: ec2.CfnEIP[];

  constructor(scope: Construct, id: string, props: StaticIpExampleStackProps = {}) {
    super(scope, id, props);
    const https = props.certificateArn !== undefined && props.certificateArn !== '';
    const port = https ? 443 : 80;
    const vpcCidr = props.vpcCidr ?? '10.0.0.0/16';

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(vpcCidr),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'alb', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_WEEK, removalPolicy: RemovalPolicy.DESTROY }),
      ),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    // The NLB forwards to IP targets without client IP preservation, so the ALB sees NLB addresses from the VPC.
    const albSg = new ec2.SecurityGroup(this, 'AlbSecurityGroup', {
      vpc: this.vpc,
      description: `internal ALB: ${port}/tcp from the VPC (the NLB) only`,
      allowAllOutbound: false,
    });
    albSg.addIngressRule(ec2.Peer.ipv4(vpcCidr), ec2.Port.tcp(port), 'from the NLB (VPC addresses)');

    this.alb = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: this.vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroup: albSg,
      dropInvalidHeaderFields: true,
    });
    const defaultAction = elbv2.ListenerAction.fixedResponse(200, { contentType: 'text/plain', messageBody: 'albsync example: reached the ALB through a static IP\n' });
    if (https) {
      this.alb.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [elbv2.ListenerCertificate.fromArn(props.certificateArn!)],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        defaultAction,
        open: false,
      });
    } else {
      this.alb.addListener('Http', { port: 80, protocol: elbv2.ApplicationProtocol.HTTP, defaultAction, open: false });
    }

    const publicSubnets = this.vpc.selectSubnets({ subnetType: ec2.SubnetType.PUBLIC }).subnets;
    this.elasticIps = publicSubnets.map((_s, i) => new ec2.CfnEIP(this, `StaticIp${i + 1}`, { domain: 'vpc' }));
    this.nlb = new elbv2.NetworkLoadBalancer(this, 'Nlb', {
      vpc: this.vpc,
      internetFacing: true,
      crossZoneEnabled: true,
      subnetMappings: publicSubnets.map((subnet, i) => ({ subnet, allocationId: this.elasticIps[i].attrAllocationId })),
    });
    this.targetGroup = new elbv2.NetworkTargetGroup(this, 'AlbTargets', {
      vpc: this.vpc,
      port,
      protocol: elbv2.Protocol.TCP,
      targetType: elbv2.TargetType.IP,
      // AWS advises at least 120 s; ALB nodes drain in that time.
      deregistrationDelay: Duration.seconds(120),
      healthCheck: { protocol: elbv2.Protocol.TCP, interval: Duration.seconds(10), healthyThresholdCount: 3, unhealthyThresholdCount: 3 },
    });
    this.nlb.addListener('Tcp', { port, protocol: elbv2.Protocol.TCP, defaultTargetGroups: [this.targetGroup] });

    this.albSync = new AlbSync(this, 'AlbSync', {
      bindings: [
        {
          name: 'example',
          alb: this.alb,
          port,
          targetGroup: this.targetGroup,
          vpcCidrs: [vpcCidr],
        },
      ],
      alarmEmails: props.alarmEmail ? [props.alarmEmail] : undefined,
      code: props.code,
      workflowType: props.workflowType,
      removalPolicy: props.removalPolicy,
    });

    for (const lb of [this.alb, this.nlb]) {
      Validations.of(lb).acknowledge({
        id: 'AwsSolutions-ELB2',
        reason:
          'Example stack: access logs need an S3 bucket with a region-specific ELB log-delivery policy; enable ' +
          'them (loadBalancer.logAccessLogs) where your organisation requires it.',
      });
    }

    this.elasticIps.forEach((eip, i) => {
      new CfnOutput(this, `StaticIp${i + 1}Output`, {
        key: `StaticIp${i + 1}`,
        description: `Static IP ${i + 1} of the NLB (one per zone)`,
        value: eip.attrPublicIp,
      });
    });
    new CfnOutput(this, 'NlbDnsName', { description: 'DNS name of the NLB (resolves to the static IPs)', value: this.nlb.loadBalancerDnsName });
    new CfnOutput(this, 'AlbDnsName', { description: 'DNS name of the internal ALB albsync resolves', value: this.alb.loadBalancerDnsName });
  }
}
