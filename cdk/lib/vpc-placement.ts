import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { FunctionVpcPlacement } from './functions';

/**
 * The functions' place in a VPC: subnets, security groups and, unless turned off, the VPC endpoints of every
 * AWS API they call, so private subnets without a NAT gateway work:
 * - S3 (gateway endpoint, free): the diff function's state documents;
 * - Elastic Load Balancing: DescribeTargetHealth, RegisterTargets, DeregisterTargets;
 * - CloudWatch (monitoring): kept for API calls to CloudWatch (the metrics themselves are EMF log lines);
 * - CloudWatch Logs: anything that writes logs through the API from inside the VPC;
 * - STS: assuming roles (cross-account target groups);
 * - EC2, only when a binding has an `eni` source: DescribeNetworkInterfaces of diff, register and deregister.
 * In a VPC, the resolve function asks the VPC's resolver, so private hosted zones and in-VPC names resolve.
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html ("Internet and service access")
 */
export class VpcPlacement extends Construct {
  public readonly vpc: ec2.IVpc;
  public readonly subnets: ec2.SubnetSelection;
  public readonly securityGroups: ec2.ISecurityGroup[];
  /** The endpoints created (empty with `createEndpoints: false`). */
  public readonly endpoints: (ec2.GatewayVpcEndpoint | ec2.InterfaceVpcEndpoint)[] = [];

  constructor(scope: Construct, id: string, props: FunctionVpcPlacement, options: { readonly ec2Endpoint?: boolean } = {}) {
    super(scope, id);
    this.vpc = props.vpc;
    this.subnets = props.subnets ?? {
      subnetType: props.vpc.privateSubnets.length > 0 ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
    };
    this.securityGroups = props.securityGroups ?? [
      new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc: props.vpc,
        description: 'albsync functions: outbound only (AWS APIs, DNS)',
        allowAllOutbound: true,
      }),
    ];
    if (props.createEndpoints ?? true) {
      this.endpoints.push(
        props.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [this.subnets] }),
      );
      const services: [string, ec2.InterfaceVpcEndpointAwsService][] = [
        ['Elb', ec2.InterfaceVpcEndpointAwsService.ELASTIC_LOAD_BALANCING],
        ['CloudWatch', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING],
        ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
        ['Sts', ec2.InterfaceVpcEndpointAwsService.STS],
        ...(options.ec2Endpoint ? ([['Ec2', ec2.InterfaceVpcEndpointAwsService.EC2]] as [string, ec2.InterfaceVpcEndpointAwsService][]) : []),
      ];
      for (const [name, service] of services) {
        const endpoint = new ec2.InterfaceVpcEndpoint(this, name, {
          vpc: props.vpc,
          service,
          subnets: this.subnets,
          privateDnsEnabled: true,
          // Only the functions reach the endpoints (HTTPS from their security groups).
          open: false,
        });
        for (const sg of this.securityGroups) endpoint.connections.allowFrom(sg, ec2.Port.tcp(443), 'albsync functions');
        this.endpoints.push(endpoint);
      }
    }
  }
}
