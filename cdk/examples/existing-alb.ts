// Static IPs for an ALB you already have: its NLB's IP target group kept equal to the ALB's addresses.
// Deploy: npx cdk deploy --app 'npx ts-node --transpile-only examples/existing-alb.ts' -c albsync:codeDir=../target/lambda
import { App, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { AlbSync, FunctionCode } from '../lib';

export class ExistingAlbStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps & { codeDir: string }) {
    super(scope, id, props);
    new AlbSync(this, 'AlbSync', {
      bindings: [
        {
          name: 'api',
          albArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/api/0123456789abcdef',
          port: 443,
          targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api-ips/0123456789abcdef',
          vpc: ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: 'vpc-0123456789abcdef0' }),
        },
      ],
      alarmEmails: ['ops@example.com'],
      code: FunctionCode.prebuilt(props.codeDir),
    });
  }
}

if (require.main === module) {
  const app = new App();
  new ExistingAlbStack(app, 'web', {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    codeDir: app.node.tryGetContext('albsync:codeDir') ?? '../target/lambda',
  });
}
