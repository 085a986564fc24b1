/**
 * Contract between the CDK app and the Rust functions: every binding the construct puts into a schedule's input
 * is accepted by the Rust binding parser (crates/albsync-core, `Binding::from_json`), and inputs the Rust side
 * refuses are props the construct refuses at synthesis. The parser runs as the `parse-bindings` example of
 * albsync-core: ALBSYNC_BINDING_PARSER (a built binary) or `cargo run` from the repository (needs Rust).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AlbSync } from '../lib/albsync';
import { AddressFamily, BindingProps, executionInput, ResolvedBindingProps, validateBindings } from '../lib/binding';
import { FunctionCode } from '../lib/code';
import { BINDINGS, dummyCodeDir, testApp } from './helpers';

const repo = path.resolve(__dirname, '..', '..');

/** The Rust parser's verdict on each input. */
function rustVerdicts(inputs: unknown[]): { ok: boolean; error?: string }[] {
  const bin = process.env.ALBSYNC_BINDING_PARSER;
  const [cmd, args] = bin ? [bin, []] : ['cargo', ['run', '--quiet', '--locked', '-p', 'albsync-core', '--example', 'parse-bindings']];
  const r = spawnSync(cmd, args, { cwd: repo, input: JSON.stringify(inputs), encoding: 'utf8', timeout: 900_000 });
  if (r.error) throw new Error(`cannot run the Rust binding parser (${cmd}): ${r.error.message}; set ALBSYNC_BINDING_PARSER or install Rust`);
  if (r.status !== 0) throw new Error(`the Rust binding parser failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

let scheduled: unknown[];
beforeAll(() => {
  const app = testApp();
  const stack = new Stack(app, 'Contract');
  new AlbSync(stack, 'AlbSync', { bindings: BINDINGS, code: FunctionCode.prebuilt(dummyCodeDir()) });
  const t = Template.fromJSON(app.synth().getStackArtifact(stack.artifactId).template);
  scheduled = (Object.values(t.findResources('AWS::Scheduler::Schedule')) as any[]).map((s) => JSON.parse(s.Properties.Target.Input));
});

const good = BINDINGS[0];
/** Props the construct refuses; the same binding sent straight to the functions must be refused there too. */
const REFUSED: [string, Partial<BindingProps>][] = [
  ['port 0', { port: 0 }],
  ['port 65536', { port: 65536 }],
  ['graceRuns 0', { graceRuns: 0 }],
  ['upper-case name', { name: 'Web' }],
  ['name too long', { name: 'a'.repeat(49) }],
  ['bad DNS name', { dnsName: 'not a name' }],
  ['a load balancer ARN as target group', { targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1' }],
  ['CIDR with host bits', { vpcCidrs: ['10.0.0.1/16'] }],
  ['empty allowedCidrs', { allowedCidrs: [] }],
  ['lookup.timeoutMs 10', { lookup: { timeoutMs: 10 } }],
  ['lookup.timeoutMs 24501 (two queries and the margin exceed the resolve timeout)', { lookup: { timeoutMs: 24501 } }],
  ['lookup.lookAgain 4', { lookup: { lookAgain: 4 } }],
  ['lookup.mode unknown', { lookup: { mode: 'recursive' as any } }],
  ['ipv6 without allowedCidrs', { family: AddressFamily.IPV6, vpcCidrs: [] }],
  ['slotSeconds 0', { slotSeconds: 0 }],
  ['slotSeconds 3601', { slotSeconds: 3601 }],
  ['graceSeconds 0', { graceSeconds: 0 }],
  ['graceSeconds 604801', { graceSeconds: 604801 }],
  ['eni with neither ARN nor name and id', { eni: { loadBalancerName: 'web' } }],
  ['eni ARN of a network load balancer', { eni: { loadBalancerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/web/0123456789abcdef' } }],
  ['eni id not hex', { eni: { loadBalancerName: 'web', loadBalancerId: 'xyz' } }],
  ['eni name ending in a hyphen', { eni: { loadBalancerName: 'web-', loadBalancerId: '0123456789abcdef' } }],
  ['maxDeregistrationsPerRun 0', { maxDeregistrationsPerRun: 0 }],
  ['roleArn of a user, not a role', { roleArn: 'arn:aws:iam::123456789012:user/ops' }],
  ['roleArn in another account than the target group', { roleArn: 'arn:aws:iam::210987654321:role/albsync-targets' }],
  ['roleArn with a space in its name', { roleArn: 'arn:aws:iam::123456789012:role/albsync targets' }],
];

test('a cross-account binding (roleArn of the target group\'s account) parses in Rust, role kept', () => {
  const cross = executionInput({
    ...good,
    targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:210987654321:targetgroup/web/0123456789abcdef',
    roleArn: 'arn:aws:iam::210987654321:role/ops/albsync-targets',
  } as ResolvedBindingProps);
  expect(cross.roleArn).toBe('arn:aws:iam::210987654321:role/ops/albsync-targets');
  expect(rustVerdicts([cross])).toEqual([{ ok: true }]);
});

test('every scheduled input parses in Rust', () => {
  expect(scheduled).toHaveLength(BINDINGS.length);
  expect(rustVerdicts(scheduled)).toEqual(scheduled.map(() => ({ ok: true })));
});

test('what the construct refuses, the Rust parser refuses too (no prop passes synthesis only to fail every run)', () => {
  const bad = REFUSED.map(([, change]) => ({ ...good, ...change }) as ResolvedBindingProps);
  for (const b of bad) {
    expect(() => validateBindings([b])).toThrow(/AlbSync: invalid prop `bindings\[0\]/);

  }
  const verdicts = rustVerdicts(bad.map(executionInput));
  const accepted = verdicts.flatMap((v, i) => (v.ok ? [REFUSED[i][0]] : []));
  expect(accepted).toEqual([]);
  for (const v of verdicts) expect(v.error).toMatch(/^binding field `[A-Za-z.]+`/);

});
