/** Bad props fail at synthesis (construction) with a message naming the prop. Nothing is synthesized. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Duration, Fn, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AlbSync, AlbSyncProps } from '../lib/albsync';
import { AddressFamily, BindingProps, executionInput, LookupMode, parseCidr } from '../lib/binding';
import { FunctionCode } from '../lib/code';
import { BINDINGS, dummyCodeDir, TG_WEB } from './helpers';

const good: BindingProps = BINDINGS[0];
const make = (props: Partial<AlbSyncProps>) => () =>
  new AlbSync(new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S'), 'A', {
    bindings: [good],
    code: FunctionCode.prebuilt(codeDir),
    ...props,
  });
const withBinding = (b: Partial<BindingProps>, others: BindingProps[] = []) => make({ bindings: [...others, { ...good, ...b }] });

let codeDir: string;
beforeAll(() => {
  codeDir = dummyCodeDir();
});

test('valid props construct', () => {
  expect(make({})).not.toThrow();
});

test.each<[string, () => unknown, RegExp]>([
  ['no bindings', make({ bindings: [] }), /`bindings`: at least one binding is required/],
  ['bindings missing', make({ bindings: undefined as unknown as BindingProps[] }), /`bindings`: at least one binding/],
  ['malformed target group ARN', withBinding({ targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1' }), /`bindings\[0\]\.targetGroupArn`: .* is not a target group ARN/],
  ['ARN with a short account', withBinding({ targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:1234:targetgroup/web/0123456789abcdef' }), /`bindings\[0\]\.targetGroupArn`/],
  ['port 0', withBinding({ port: 0 }), /`bindings\[0\]\.port`: 0 is out of range 1\.\.=65535/],
  ['port 65536', withBinding({ port: 65536 }), /`bindings\[0\]\.port`: 65536/],
  ['port 80.5', withBinding({ port: 80.5 }), /`bindings\[0\]\.port`/],
  ['graceRuns 0', withBinding({ graceRuns: 0 }), /`bindings\[0\]\.graceRuns`: 0 is out of range 1\.\.=1000/],
  ['duplicate names', withBinding({ targetGroupArn: TG_WEB.replace('web/', 'web2/') }, [good]), /`bindings\[1\]\.name`: duplicate binding name "web" \(also bindings\[0\]\)/],
  ['same DNS name, target group and port', withBinding({ name: 'other' }, [good]), /`bindings\[1\]`: binding "other" claims target group .* port 443, already claimed by binding "web" \(bindings\[0\]\)/],
  ['another DNS name on the same target group and port', withBinding({ name: 'other', dnsName: 'internal-other-1.us-east-1.elb.amazonaws.com' }, [good]), /`bindings\[1\]`: binding "other" claims target group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup\/web\/0123456789abcdef port 443, already claimed by binding "web"/],
  ['upper-case name', withBinding({ name: 'Web' }), /`bindings\[0\]\.name`: "Web" must be 1-48 characters of a-z, 0-9 and -/],
  ['name with a dot', withBinding({ name: 'web.1' }), /`bindings\[0\]\.name`/],
  ['name too long', withBinding({ name: 'a'.repeat(49) }), /`bindings\[0\]\.name`/],
  ['empty name', withBinding({ name: '' }), /`bindings\[0\]\.name`/],
  ['bad DNS name', withBinding({ dnsName: 'not a name' }), /`bindings\[0\]\.dnsName`/],
  ['bad CIDR in vpcCidrs', withBinding({ vpcCidrs: ['10.0.0.0/33'] }), /`bindings\[0\]\.vpcCidrs\[0\]`: "10\.0\.0\.0\/33" is not a CIDR block/],
  ['CIDR with host bits', withBinding({ vpcCidrs: ['10.0.0.1/16'] }), /`bindings\[0\]\.vpcCidrs\[0\]`: .* has host bits set/],
  ['bad CIDR in allowedCidrs', withBinding({ allowedCidrs: ['ten/8'] }), /`bindings\[0\]\.allowedCidrs\[0\]`/],
  ['ipv6 without allowedCidrs (no built-in range holds an ALB\'s global IPv6 addresses)', withBinding({ family: AddressFamily.IPV6, vpcCidrs: [] }), /`bindings\[0\]\.allowedCidrs`: is required for family ipv6/],
  ['empty allowedCidrs', withBinding({ allowedCidrs: [] }), /`bindings\[0\]\.allowedCidrs`: is empty/],
  ['bad family', withBinding({ family: 'ipv5' as AddressFamily }), /`bindings\[0\]\.family`/],
  ['lookup.timeoutMs too small', withBinding({ lookup: { timeoutMs: 10 } }), /`bindings\[0\]\.lookup\.timeoutMs`/],
  ['lookup.timeoutMs beyond what fits in the resolve timeout', withBinding({ lookup: { timeoutMs: 24501 } }), /`bindings\[0\]\.lookup\.timeoutMs`: 24501 ms cannot fit: .* need 50002 ms, more than the resolve function's timeout of 50000 ms/],
  ['lookup.lookAgain 4', withBinding({ lookup: { lookAgain: 4 } }), /`bindings\[0\]\.lookup\.lookAgain`: 4 is out of range 0\.\.=3/],
  ['lookup.mode unknown', withBinding({ lookup: { mode: 'recursive' as LookupMode } }), /`bindings\[0\]\.lookup\.mode`: "recursive" must be "resolver" or "authoritative"/],
  ['slotSeconds 3601', withBinding({ slotSeconds: 3601 }), /`bindings\[0\]\.slotSeconds`: 3601 is out of range 1\.\.=3600/],
  ['graceSeconds 0', withBinding({ graceSeconds: 0 }), /`bindings\[0\]\.graceSeconds`: 0 is out of range 1\.\.=604800/],
  ['eni with a name but no id', withBinding({ eni: { loadBalancerName: 'web' } }), /`bindings\[0\]\.eni`: give either loadBalancerArn, or loadBalancerName and loadBalancerId/],
  ['eni ARN of an NLB', withBinding({ eni: { loadBalancerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/web/0123456789abcdef' } }), /`bindings\[0\]\.eni\.loadBalancerArn`: .* is not an ALB ARN: resource is not loadbalancer\/app\/NAME\/ID/],
  ['eni id not hex', withBinding({ eni: { loadBalancerName: 'web', loadBalancerId: 'xyz' } }), /`bindings\[0\]\.eni\.loadBalancerId`: "xyz" is not a load balancer id/],
  ['maxDeregistrationsPerRun 0', withBinding({ maxDeregistrationsPerRun: 0 }), /`bindings\[0\]\.maxDeregistrationsPerRun`/],
  ['namespace AWS/...', make({ metricNamespace: 'AWS/ApplicationELB' }), /`metricNamespace`: "AWS\/ApplicationELB" must not start with "AWS\/"/],
  ['empty namespace', make({ metricNamespace: '' }), /`metricNamespace`/],
  ['schedule of 30 s', make({ schedule: Duration.seconds(30) }), /`schedule`: .* whole number of minutes, at least one/],
  ['schedule of 90 s', make({ schedule: Duration.seconds(90) }), /`schedule`/],
  ['workflow log level OFF', make({ workflowLogLevel: sfn.LogLevel.OFF }), /`workflowLogLevel`: OFF would blind the SafetyRailTripped alarm/],
  ['memory 64 MB', make({ memorySize: 64 }), /`memorySize`/],
  ['state prefix without slash', make({ statePrefix: 'albsync' }), /`statePrefix`/],
  ['retry attempts 200', make({ scheduleRetryAttempts: 200 }), /`scheduleRetryAttempts`/],
  ['DNS server without port', make({ dnsServer: '10.0.0.2' }), /`dnsServer`/],
  ['prebuilt dir without bootstraps', make({ code: FunctionCode.prebuilt(os.tmpdir() + '/albsync-nowhere') }), /`code`: prebuilt bootstrap .*albsync-resolve\/bootstrap does not exist/],
  ['missing Cargo manifest', make({ code: FunctionCode.cargoLambda({ manifestPath: '/nowhere/Cargo.toml' }) }), /`code`: Cargo manifest \/nowhere\/Cargo.toml does not exist/],
  ['missing definition', make({ definitionPath: '/nowhere/albsync.asl.json' }), /`definitionPath`: \/nowhere\/albsync.asl.json does not exist/],
  ['dnsName and albArn together', withBinding({ albArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef' }), /`bindings\[0\]`: give exactly one of dnsName, alb and albArn \(got 2\)/],
  ['no DNS source', withBinding({ dnsName: undefined }), /`bindings\[0\]`: give exactly one of dnsName, alb and albArn \(got 0\)/],
  ['a target group ARN as albArn', withBinding({ dnsName: undefined, albArn: TG_WEB }), /`bindings\[0\]\.albArn`: .* is not an ALB ARN/],
  ['no target group', withBinding({ targetGroupArn: undefined }), /`bindings\[0\]`: give exactly one of targetGroupArn and targetGroup \(got 0\)/],
  ['neither vpcCidrs nor vpc', withBinding({ vpcCidrs: undefined }), /`bindings\[0\]\.vpcCidrs`: give vpcCidrs or vpc/],
  ['Express logging only errors', make({ workflowType: sfn.StateMachineType.EXPRESS, workflowLogLevel: sfn.LogLevel.ERROR }), /`workflowLogLevel`: ERROR with EXPRESS would leave successful runs without any record/],
  ['M above N', make({ failureAlarm: { evaluationPeriods: 3, datapointsToAlarm: 4 } }), /`failureAlarm\.datapointsToAlarm`: 4 must be an integer in 1\.\.3/],
  ['N of 0', make({ failureAlarm: { evaluationPeriods: 0 } }), /`failureAlarm\.evaluationPeriods`: 0 must be an integer in 1\.\.1440/],
  ['bad e-mail', make({ alarmEmails: ['ops.example.com'] }), /`alarmEmails\[0\]`: "ops\.example\.com" is not an e-mail address/],
  ['bad deployment name', make({ deploymentName: 'web/prod' }), /`deploymentName`: "web\/prod" must be 1-64 characters/],
])('%s', (_name, construct, message) => {
  expect(construct).toThrow(message);
});

test('a definition with an unknown placeholder is refused', () => {
  const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'albsync-asl-')), 'bad.asl.json');
  fs.writeFileSync(p, JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Task', Resource: '${ResolveFunctionArn}', Next: 'B' }, B: { Type: 'Task', Resource: '${NotAFunction}', End: true } } }));
  expect(make({ definitionPath: p })).toThrow(/`definitionPath`: placeholders without a substitution: NotAFunction/);
});

test('tokens (ALB DNS name, target group ARN, VPC CIDR) are accepted unvalidated', () => {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'T');
  expect(
    () =>
      new AlbSync(stack, 'A', {
        code: FunctionCode.prebuilt(codeDir),
        bindings: [{ name: 'tok', dnsName: Fn.importValue('AlbDns'), port: 80, targetGroupArn: Fn.importValue('TgArn'), vpcCidrs: [Fn.importValue('VpcCidr')] }],
      }),
  ).not.toThrow();
});

test.each([
  ['10.0.0.0/8', { family: 'ipv4', canonical: true }],
  ['10.0.0.1/32', { family: 'ipv4', canonical: true }],
  ['10.0.0.1/31', { family: 'ipv4', canonical: false }],
  ['0.0.0.0/0', { family: 'ipv4', canonical: true }],
  ['fc00::/7', { family: 'ipv6', canonical: true }],
  ['fd00::1/64', { family: 'ipv6', canonical: false }],
  ['2001:db8::/32', { family: 'ipv6', canonical: true }],
  ['::/0', { family: 'ipv6', canonical: true }],
  ['10.0.0.0', undefined],
  ['10.0.0.256/8', undefined],
  ['fc00::/129', undefined],
])('parseCidr(%s)', (text, expected) => {
  expect(parseCidr(text)).toEqual(expected);
});

test('slotSeconds defaults to the schedule interval; a given slotSeconds wins', () => {
  const sync = make({
    schedule: Duration.minutes(5),
    bindings: [good, { ...BINDINGS[1], slotSeconds: 30 }],
  })() as AlbSync;
  expect(executionInput(sync.bindings[0]).slotSeconds).toBe(300);
  expect(executionInput(sync.bindings[1]).slotSeconds).toBe(30);
  // graceSeconds is left to the functions (graceRuns x slotSeconds) unless given.
  expect(executionInput(sync.bindings[0])).not.toHaveProperty('graceSeconds');
});

test('an ENI source and the new lookup fields reach the execution input as given', () => {
  const eni = { loadBalancerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef', registerEarly: false };
  const sync = make({ bindings: [{ ...good, eni, graceSeconds: 600, lookup: { mode: LookupMode.AUTHORITATIVE, lookAgain: 0, timeoutMs: 24500 } }] })() as AlbSync;
  expect(executionInput(sync.bindings[0])).toMatchObject({
    eni,
    graceSeconds: 600,
    lookup: { mode: 'authoritative', lookAgain: 0, timeoutMs: 24500 },
  });
});

test('one target group on two ports is two claims, and allowed', () => {
  expect(withBinding({ name: 'other', port: 8443 }, [good])).not.toThrow();
});
