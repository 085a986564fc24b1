/**
 * The AlbSync construct with its default code source (cargo-lambda-cdk RustFunction, bundling skipped), two
 * bindings, tracing on and an alarm topic. Synthesized once.
 */
import * as fs from 'node:fs';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AlbSync } from '../lib/albsync';
import { executionInput } from '../lib/binding';
import { defaultDefinitionPath, placeholdersIn, SUBSTITUTION_KEYS } from '../lib/workflow';
import { BINDINGS, logicalId, nagFindings, statementsOfRole, synthOnce, testApp, TG_API, TG_WEB, wildcardProblems } from './helpers';

let stack: Stack;
let sync: AlbSync;
let topic: sns.Topic;
let t: Template;
let messages: { level: string; entry: { data: unknown } }[];

beforeAll(() => {
  const app = testApp();
  stack = new Stack(app, 'AlbSyncTest');
  topic = new sns.Topic(stack, 'Topic', { enforceSSL: true });
  sync = new AlbSync(stack, 'AlbSync', { bindings: BINDINGS, alarmTopic: topic, tracing: true });
  const out = synthOnce(app, stack);
  t = out.template(stack);
  messages = out.messages(stack);
});

const roleOf = (fn: { role?: unknown }) => logicalId((fn.role as any).node.defaultChild.node.scope);

describe('functions', () => {
  test('four arm64 provided.al2023 functions with explicit memory, timeout and JSON logging', () => {
    t.resourceCountIs('AWS::Lambda::Function', 4);
    t.allResourcesProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      MemorySize: 256,
      Timeout: Match.anyValue(),
      LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', LogGroup: Match.anyValue() },
      TracingConfig: { Mode: 'Active' },
    });
    const timeouts = Object.values(t.findResources('AWS::Lambda::Function')).map((r: any) => r.Properties.Timeout);
    for (const s of timeouts) expect(s).toBeLessThan(60);
  });

  test('each function logs to its own log group with retention', () => {
    for (const fn of sync.functions.all) {
      const lg = logicalId(fn.logGroup);
      t.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.anyValue(),
        LoggingConfig: Match.objectLike({ LogGroup: { Ref: lg } }),
        Role: { 'Fn::GetAtt': [roleOf(fn), 'Arn'] },
      });
      // This function's own log group keeps 30 days (not just some log group somewhere in the template).
      expect(t.findResources('AWS::Logs::LogGroup')[lg]?.Properties?.RetentionInDays).toBe(30);
    }
    // 4 function log groups + the state machine's.
    t.resourceCountIs('AWS::Logs::LogGroup', 5);
  });

  test('environment per docs/architecture.md: namespace and deployment on every function', () => {
    const env = (fn: any) => t.findResources('AWS::Lambda::Function')[logicalId(fn)].Properties.Environment?.Variables ?? {};
    const common = { ALBSYNC_METRIC_NAMESPACE: 'AlbSync', ALBSYNC_DEPLOYMENT: 'AlbSyncTest' };
    expect(env(sync.functions.resolve)).toEqual(common);
    expect(env(sync.functions.diff)).toEqual({
      ...common,
      ALBSYNC_STATE_BUCKET: { Ref: logicalId(sync.stateBucket.bucket) },
      ALBSYNC_STATE_PREFIX: 'albsync/',
    });
    expect(env(sync.functions.register)).toEqual(common);
    // deregister re-reads the state document before it removes anything.
    expect(env(sync.functions.deregister)).toEqual({
      ...common,
      ALBSYNC_STATE_BUCKET: { Ref: logicalId(sync.stateBucket.bucket) },
      ALBSYNC_STATE_PREFIX: 'albsync/',
    });
  });

  test('no managed policies on the function roles', () => {
    for (const fn of sync.functions.all) {
      const role = t.findResources('AWS::IAM::Role')[roleOf(fn)];
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('least privilege', () => {
  test('no unexpected `*` anywhere (documented exceptions only)', () => {
    expect(wildcardProblems(t)).toEqual([]);
  });

  const ownLogs = (fn: any) => ({
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Effect: 'Allow',
    Resource: { 'Fn::GetAtt': [logicalId(fn.logGroup), 'Arn'] },
    Sid: 'OwnLogGroupOnly',
  });
  // Actions sorted: the recommended flag @aws-cdk/aws-iam:minimizePolicies sorts and merges statements.
  const xray = { Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Effect: 'Allow', Resource: '*' };
  const describe_ = {
    Action: 'elasticloadbalancing:DescribeTargetHealth',
    Effect: 'Allow',
    Resource: '*',
    Sid: 'DescribeTargetHealthHasNoResourceLevelPermission',
  };

  test('resolve: own logs and X-Ray only (metrics are EMF log lines, no PutMetricData)', () => {
    const f = sync.functions.resolve;
    expect(statementsOfRole(t, roleOf(f))).toEqual([ownLogs(f), xray]);
  });

  test('diff: describe, state documents under albsync/ only, list of its own bucket', () => {
    const f = sync.functions.diff;
    const bucket = logicalId(sync.stateBucket.bucket);
    expect(statementsOfRole(t, roleOf(f))).toEqual([
      ownLogs(f),
      xray,
      describe_,
      {
        Action: ['s3:GetObject', 's3:PutObject'],
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/albsync/*']] },
        Sid: 'StateDocumentsUnderPrefixOnly',
      },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: { 'Fn::GetAtt': [bucket, 'Arn'] }, Sid: 'ListOwnStateBucketForNoSuchKey' },
    ]);
  });

  test('register: RegisterTargets on the bound target groups only, no DescribeTargetHealth (it never reads)', () => {
    const f = sync.functions.register;
    expect(statementsOfRole(t, roleOf(f))).toEqual([
      ownLogs(f),
      xray,
      { Action: 'elasticloadbalancing:RegisterTargets', Effect: 'Allow', Resource: [TG_API, TG_WEB], Sid: 'RegisterOnBoundTargetGroupsOnly' },
    ]);
  });

  test('deregister: DeregisterTargets on the bound target groups only, reads the state documents under albsync/', () => {
    const f = sync.functions.deregister;
    const bucket = logicalId(sync.stateBucket.bucket);
    expect(statementsOfRole(t, roleOf(f))).toEqual([
      ownLogs(f),
      xray,
      describe_,
      { Action: 'elasticloadbalancing:DeregisterTargets', Effect: 'Allow', Resource: [TG_API, TG_WEB], Sid: 'DeregisterOnBoundTargetGroupsOnly' },
      {
        Action: 's3:GetObject',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/albsync/*']] },
        Sid: 'ReadStateDocumentsUnderPrefixOnly',
      },
    ]);
  });

  test('the state machine may invoke exactly the four functions', () => {
    const statements = statementsOfRole(t, logicalId(sync.workflow.stateMachine.role));
    const invoke = statements.filter((s) => JSON.stringify(s.Action).includes('lambda:'));
    expect(invoke).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        // Sorted (minimizePolicies sorts resources).
        Resource: sync.functions.all
          .map((fn) => ({ 'Fn::GetAtt': [logicalId(fn), 'Arn'] }))
          .sort((a, b) => a['Fn::GetAtt'][0].localeCompare(b['Fn::GetAtt'][0])),
        Sid: 'InvokeTheFourFunctionsOnly',
      },
    ]);
    // Everything else on that role is log delivery or X-Ray (checked by the wildcard test).
    for (const s of statements.filter((x) => x !== invoke[0])) {
      for (const a of [s.Action].flat()) expect(a).toMatch(/^(logs|xray):/);
    }
  });

  test('the scheduler role may start this state machine and write to the DLQ, nothing else', () => {
    const roles = Object.keys(t.findResources('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: Match.objectLike({ Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'scheduler.amazonaws.com' } })]) }) } }));
    expect(roles).toHaveLength(1);
    expect(statementsOfRole(t, roles[0])).toEqual([
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: logicalId(sync.workflow.stateMachine) } },
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalId(sync.schedules.deadLetterQueue), 'Arn'] } },
    ]);
  });
});

describe('state machine', () => {
  const definitionText = fs.readFileSync(defaultDefinitionPath(), 'utf8');

  test('substitution keys equal exactly the placeholders of the definition file', () => {
    const sm = t.findResources('AWS::StepFunctions::StateMachine')[logicalId(sync.workflow.stateMachine)];
    const keys = Object.keys(sm.Properties.DefinitionSubstitutions).sort();
    expect(keys).toEqual(placeholdersIn(definitionText));
    expect(keys).toEqual([...SUBSTITUTION_KEYS].sort());
  });

  test('each placeholder maps to its function', () => {
    const sm = t.findResources('AWS::StepFunctions::StateMachine')[logicalId(sync.workflow.stateMachine)];
    const f = sync.functions;
    expect(sm.Properties.DefinitionSubstitutions).toEqual({
      ResolveFunctionArn: { 'Fn::GetAtt': [logicalId(f.resolve), 'Arn'] },
      DiffFunctionArn: { 'Fn::GetAtt': [logicalId(f.diff), 'Arn'] },
      RegisterFunctionArn: { 'Fn::GetAtt': [logicalId(f.register), 'Arn'] },
      DeregisterFunctionArn: { 'Fn::GetAtt': [logicalId(f.deregister), 'Arn'] },
    });
  });

  test('the execution timeout is in the synthesized definition: TimeoutSeconds at most 300 (Express maximum)', () => {
    // aws-cdk-lib's `timeout` prop never reaches a DefinitionBody.fromString definition; the ASL must carry it.
    const sm = t.findResources('AWS::StepFunctions::StateMachine')[logicalId(sync.workflow.stateMachine)];
    const deployed = JSON.parse(sm.Properties.DefinitionString);
    expect(typeof deployed.TimeoutSeconds).toBe('number');
    expect(deployed.TimeoutSeconds).toBeGreaterThan(0);
    expect(deployed.TimeoutSeconds).toBeLessThanOrEqual(300);
  });

  test('the definition is inlined verbatim (assertions can read the states)', () => {
    t.hasResourceProperties('AWS::StepFunctions::StateMachine', { DefinitionString: definitionText });
  });

  test('Standard by default, logging to its log group, tracing as configured', () => {
    t.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ERROR',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logicalId(sync.workflow.logGroup), 'Arn'] } } }],
      },
    });
    const lg = t.findResources('AWS::Logs::LogGroup')[logicalId(sync.workflow.logGroup)];
    expect(lg.Properties.RetentionInDays).toBe(30);
    // /aws/vendedlogs/states/<path>-<UUID of the stack id>
    const [, parts] = lg.Properties.LogGroupName['Fn::Join'];
    expect(parts[0]).toMatch(/^\/aws\/vendedlogs\/states\/.+-$/);
    expect(parts[1]).toEqual({ 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] });
  });
});

describe('schedules', () => {
  test('one schedule per binding, input = the binding with defaults filled', () => {
    const schedules = Object.values(t.findResources('AWS::Scheduler::Schedule')) as any[];
    expect(schedules).toHaveLength(BINDINGS.length);
    const inputs = schedules.map((s) => JSON.parse(s.Properties.Target.Input));
    expect(inputs).toEqual(BINDINGS.map(executionInput));
    expect(inputs[0]).toEqual({
      name: 'web',
      dnsName: 'internal-web-1234.us-east-1.elb.amazonaws.com',
      port: 443,
      targetGroupArn: TG_WEB,
      graceRuns: 3,
      allowedCidrs: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'],
      vpcCidrs: ['10.0.0.0/16'],
      family: 'ipv4',
      lookup: { maxQueries: 200, settleQueries: 10, timeoutMs: 2000, mode: 'resolver', lookAgain: 1 },
      maxDeregistrationsPerRun: null,
      // The schedule's one-minute interval.
      slotSeconds: 60,
    });
    expect(inputs[1]).toMatchObject({ graceRuns: 5, allowedCidrs: ['10.1.0.0/16'], vpcCidrs: [], lookup: { maxQueries: 50, settleQueries: 10, timeoutMs: 2000 }, maxDeregistrationsPerRun: 2 });
  });

  test('rate(1 minute), StartExecution on the state machine, retry policy, shortest event age, DLQ', () => {
    t.allResourcesProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: Match.objectLike({
        Arn: { Ref: logicalId(sync.workflow.stateMachine) },
        RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 2 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(sync.schedules.deadLetterQueue), 'Arn'] } },
      }),
    });
  });

  test('the dead-letter queue is encrypted and TLS-only', () => {
    t.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('state bucket', () => {
  test('public access blocked, S3-managed encryption, versioned, old versions expire', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 30 } })],
      },
    });
    const bucket = t.findResources('AWS::S3::Bucket')[logicalId(sync.stateBucket.bucket)];
    expect(bucket.DeletionPolicy).toBe('Retain');
  });

  test('TLS only (bucket policy denies aws:SecureTransport=false)', () => {
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(sync.stateBucket.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('alarms', () => {
  const topicRef = () => ({ Ref: logicalId(topic) });
  const dims = (name: string) => [
    { Name: 'Binding', Value: name },
    { Name: 'Deployment', Value: 'AlbSyncTest' },
  ];
  const sortDims = (d: { Name: string }[]) => [...d].sort((a, b) => a.Name.localeCompare(b.Name));
  const alarmsOf = (metric: string) =>
    (Object.values(t.findResources('AWS::CloudWatch::Alarm')) as any[]).filter((a) => a.Properties.MetricName === metric);

  test('every alarm notifies the topic (alarm and OK)', () => {
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')) as any[];
    // failed executions, no successful run, safety rail; per binding: resolved addresses and drift.
    expect(alarms).toHaveLength(3 + 2 * BINDINGS.length);
    for (const a of alarms) {
      expect(a.Properties.AlarmActions).toEqual([topicRef()]);
      expect(a.Properties.OKActions).toEqual([topicRef()]);
    }
  });

  test('failed executions: 3 failed one-minute periods of the last 5 (one blip pages no one)', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: logicalId(sync.workflow.stateMachine) } }],
      Period: 60,
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
  });

  test('no successful run for 10 minutes, missing data breaching', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsSucceeded',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: logicalId(sync.workflow.stateMachine) } }],
      Period: 600,
      Statistic: 'Sum',
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      TreatMissingData: 'breaching',
    });
  });

  test.each(BINDINGS.map((b) => b.name))('ResolvedAddresses of %s below 1 or missing, keyed by deployment and binding', (name) => {
    const found = alarmsOf('ResolvedAddresses').filter((a) => JSON.stringify(a.Properties.Dimensions).includes(`"${name}"`));
    expect(found).toHaveLength(1);
    expect(sortDims(found[0].Properties.Dimensions)).toEqual(dims(name));
    expect(found[0].Properties).toMatchObject({
      Namespace: 'AlbSync',
      Statistic: 'Minimum',
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
    });
  });

  test.each(BINDINGS.map((b) => b.name))('Drift of %s above 0 for 5 minutes, keyed by deployment and binding', (name) => {
    const found = alarmsOf('Drift').filter((a) => JSON.stringify(a.Properties.Dimensions).includes(`"${name}"`));
    expect(found).toHaveLength(1);
    expect(sortDims(found[0].Properties.Dimensions)).toEqual(dims(name));
    expect(found[0].Properties).toMatchObject({
      Namespace: 'AlbSync',
      Period: 60,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  });

  test('safety rail: metric filter on the state machine log group, alarm on it, metric per deployment', () => {
    t.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: logicalId(sync.workflow.logGroup) },
      // Written out, not rebuilt with the code under test: the execution fails with the Fail state's Error
      // (SafetyRailTripped) when the Catch routes there, or with the function's error name if it is uncaught.
      FilterPattern:
        '{ ($.type = "ExecutionFailed") && (($.details.error = "Albsync.SafetyRailTripped") || ($.details.error = "SafetyRailTripped")) }',
      MetricTransformations: [{ MetricNamespace: 'AlbSync', MetricName: 'SafetyRailTripped-AlbSyncTest', MetricValue: '1' }],
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AlbSync',
      MetricName: 'SafetyRailTripped-AlbSyncTest',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  test('the topic policy lets CloudWatch alarms of this account publish (enforceSSL alone would only deny)', () => {
    const policies = Object.values(t.findResources('AWS::SNS::TopicPolicy')) as any[];
    const ours = policies.filter((p) => JSON.stringify(p.Properties.Topics) === JSON.stringify([topicRef()]));
    expect(ours).toHaveLength(1);
    const allows = ours[0].Properties.PolicyDocument.Statement.filter(
      (st: any) => st.Effect === 'Allow' && st.Principal?.Service === 'cloudwatch.amazonaws.com' && [st.Action].flat().includes('sns:Publish'),
    );
    expect(allows).toHaveLength(1);
    expect(allows[0].Resource).toEqual(topicRef());
    expect(allows[0].Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    expect(JSON.stringify(allows[0].Condition.ArnLike['aws:SourceArn'])).toContain(':alarm:*');
  });
});

describe('published configuration', () => {
  test('SSM parameter /albsync/<stack> holds the state machine, type, bucket, prefix, log group and every binding', () => {
    const params = Object.values(t.findResources('AWS::SSM::Parameter')) as any[];
    expect(params).toHaveLength(1);
    const p = params[0].Properties;
    expect(p.Name).toBe('/albsync/AlbSyncTest');
    expect(p.Type).toBe('String');
    // The value is JSON with tokens, joined by CloudFormation: resolve the references to names to read it.
    const [sep, parts] = p.Value['Fn::Join'];
    expect(sep).toBe('');
    const text = parts.map((x: any) => (typeof x === 'string' ? x : `<${JSON.stringify(x).replace(/"/g, "'")}>`)).join('');
    const doc = JSON.parse(text);
    expect(doc).toMatchObject({
      schemaVersion: 1,
      deployment: 'AlbSyncTest',
      workflowType: 'STANDARD',
      statePrefix: 'albsync/',
      metricNamespace: 'AlbSync',
    });
    expect(doc.stateMachineArn).toContain(logicalId(sync.workflow.stateMachine));
    expect(doc.stateBucket).toContain(logicalId(sync.stateBucket.bucket));
    expect(doc.workflowLogGroup).toContain(logicalId(sync.workflow.logGroup));
    expect(doc.bindings).toEqual(BINDINGS.map(executionInput));
  });

  test('stack outputs: parameter, state machine, type, bucket, prefix, log group, alarm topic, each binding', () => {
    const outputs = t.toJSON().Outputs;
    for (const key of ['ConfigParameter', 'StateMachineArn', 'WorkflowType', 'WorkflowLogGroup', 'StateBucket', 'StatePrefix', 'AlarmTopicArn', 'Binding1', 'Binding2']) {
      expect(outputs).toHaveProperty(`AlbSync${key}`);
    }
    expect(outputs.AlbSyncWorkflowType.Value).toBe('STANDARD');
    expect(JSON.parse(outputs.AlbSyncBinding2.Value)).toEqual(executionInput(BINDINGS[1]));
  });
});

describe('checks', () => {
  test('cdk-nag AwsSolutions: no unacknowledged error or warning', () => {
    expect(nagFindings(stack)).toEqual([]);
  });

  test('the checks themselves catch problems (a bare bucket, a `*` on s3:GetObject)', () => {
    const scratch = new Stack(testApp(), 'Scratch');
    new s3.Bucket(scratch, 'Bare');
    expect(nagFindings(scratch).length).toBeGreaterThan(0);
    const bad = Template.fromJSON({
      Resources: {
        P: {
          Type: 'AWS::IAM::Policy',
          Properties: {
            Roles: [{ Ref: 'R' }],
            PolicyDocument: {
              Statement: [
                { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' },
                { Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*' },
                { Effect: 'Allow', Action: 'elasticloadbalancing:*', Resource: 'arn:aws:elasticloadbalancing:*' },
              ],
            },
          },
        },
      },
    });
    expect(wildcardProblems(bad)).toEqual([
      'P: unexpected Resource "*" for s3:GetObject',
      'P: unexpected Resource "*" for cloudwatch:PutMetricData',
      'P: wildcard action elasticloadbalancing:*',
      'P: wildcard in resource "arn:aws:elasticloadbalancing:*" for elasticloadbalancing:*',
    ]);
  });

  test('no CDK warnings or errors on the stack', () => {
    const bad = messages.filter((m) => m.level === 'warning' || m.level === 'error').map((m) => JSON.stringify(m.entry.data));
    expect(bad).toEqual([]);
  });
});
