/**
 * The event path (rules + trigger function) and the dashboard, as standalone constructs on a minimal stack.
 * The EMF names are checked against statemachine/metrics.json, which the Rust list generates.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AlbSyncDashboard, EMF_DIMENSIONS, EMF_METRICS } from '../lib/dashboard';
import { AlbSyncEvents, EventBinding, grantDescribeNetworkInterfaces, interfaceEventPatterns } from '../lib/events';
import { dummyCodeDir, testApp } from './helpers';

const published = JSON.parse(fs.readFileSync(path.join(__dirname, '../../statemachine/metrics.json'), 'utf8')) as {
  dimensions: string[];
  metrics: { name: string; unit: string }[];
};

const WEB: EventBinding = {
  name: 'web',
  input: { name: 'web', dnsName: 'internal-web.example', port: 443, eni: { loadBalancerName: 'web', loadBalancerId: '50dc6c495c0c9188' } },
  eni: { loadBalancerName: 'web', loadBalancerId: '50dc6c495c0c9188' },
};
const API: EventBinding = {
  name: 'api',
  input: { name: 'api', dnsName: 'internal-api.example', port: 443, eni: { loadBalancerName: 'api', loadBalancerId: '0123456789abcdef' } },
  eni: { loadBalancerName: 'api', loadBalancerId: '0123456789abcdef' },
};

let t: Template;
let stack: Stack;

beforeAll(() => {
  const app = testApp();
  stack = new Stack(app, 'AlbSyncEventsTest');
  const stateMachine = new sfn.StateMachine(stack, 'Sm', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'P')) });
  // Any bootstrap folder will do: nothing runs; the trigger's own is target/lambda/albsync-trigger.
  const code = () => lambda.Code.fromAsset(path.join(dummyCodeDir(), 'albsync-diff'));
  const diff = new lambda.Function(stack, 'Diff', { code: code(), handler: 'bootstrap', runtime: lambda.Runtime.PROVIDED_AL2023 });
  new AlbSyncEvents(stack, 'Events', { stateMachine, bindings: [WEB, API], code: code() });
  grantDescribeNetworkInterfaces(diff);
  new AlbSyncDashboard(stack, 'Dash', { metricNamespace: 'AlbSync', bindings: ['web', 'api'] });
  t = Template.fromStack(stack);
});

describe('event path', () => {
  test('creations of the bound ALBs\' interfaces by ELB, via CloudTrail', () => {
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ec2'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['ec2.amazonaws.com'],
          eventName: ['CreateNetworkInterface'],
          userIdentity: { invokedBy: ['elasticloadbalancing.amazonaws.com'] },
          requestParameters: { description: ['ELB app/api/0123456789abcdef', 'ELB app/web/50dc6c495c0c9188'] },
        },
      },
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 } })],
    });
  });

  test('deletions by ELB (they carry only the interface id), and nothing else', () => {
    t.resourceCountIs('AWS::Events::Rule', 2);
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ec2'],
        detail: { eventName: ['DeleteNetworkInterface'], userIdentity: { invokedBy: ['elasticloadbalancing.amazonaws.com'] } },
      },
    });
    // The whole event goes to the trigger: it needs eventTime, the description and the event name.
    for (const rule of Object.values(t.findResources('AWS::Events::Rule'))) {
      expect((rule as any).Properties.Targets[0].Input).toBeUndefined();
      expect((rule as any).Properties.Targets[0].InputPath).toBeUndefined();
    }
  });

  test('the patterns match the shape of the real event in tests/fixtures', () => {
    const event = JSON.parse(fs.readFileSync(path.join(__dirname, '../../tests/fixtures/cloudtrail-create-network-interface.json'), 'utf8'));
    const [created] = interfaceEventPatterns([WEB]);
    expect(created.source).toContain(event.source);
    expect(created.detailType).toContain(event['detail-type']);
    expect((created.detail as any).eventName).toContain(event.detail.eventName);
    expect((created.detail as any).userIdentity.invokedBy).toContain(event.detail.userIdentity.invokedBy);
    expect((created.detail as any).requestParameters.description).toContain(event.detail.requestParameters.description);
  });

  test('the trigger gets the state machine and the bindings, and may only start that state machine', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Environment: { Variables: { ALBSYNC_STATE_MACHINE_ARN: Match.anyValue(), ALBSYNC_BINDINGS: Match.anyValue() } },
    });
    const statements = (Object.values(t.findResources('AWS::IAM::Policy')) as any[]).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const start = statements.filter((st) => [st.Action].flat().includes('states:StartExecution'));
    expect(start).toHaveLength(1);
    expect(JSON.stringify(start[0].Resource)).toContain('Sm');
    const describe = statements.filter((st) => [st.Action].flat().includes('ec2:DescribeNetworkInterfaces'));
    expect(describe).toHaveLength(1);
    expect(describe[0].Resource).toEqual('*');
  });
});

describe('dashboard', () => {
  test('the EMF names and dimensions are exactly the published ones', () => {
    expect(Object.values(EMF_METRICS).sort()).toEqual(published.metrics.map((m) => m.name).sort());
    expect([...EMF_DIMENSIONS]).toEqual(published.dimensions);
    expect(new Set(published.metrics.map((m) => m.unit))).toEqual(new Set(['Count']));
  });

  test('every metric of every binding is on the dashboard, in the namespace, with both dimensions', () => {
    const dash = Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0] as any;
    const body = JSON.stringify(stack.resolve(dash.Properties.DashboardBody));
    for (const b of ['web', 'api']) {
      for (const name of Object.values(EMF_METRICS)) {
        // Metric arrays: [namespace, name, "Binding", <binding>, "Deployment", <stack>, {...}]
        expect(body).toContain(`[\\"AlbSync\\",\\"${name}\\",\\"Binding\\",\\"${b}\\",\\"Deployment\\",\\"AlbSyncEventsTest\\"`);
      }
    }
  });
});
