/**
 * Target groups in another account: a binding's `roleArn` reaches the functions in the schedule input, and
 * diff, register and deregister (the functions that call ELB) may assume exactly the bindings' roles.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AlbSync } from '../lib/albsync';
import { BINDINGS, logicalId, statementsOfRole, synthOnce, testApp } from './helpers';

const ROLE = 'arn:aws:iam::210987654321:role/albsync-targets';
const TG_OTHER = 'arn:aws:elasticloadbalancing:us-east-1:210987654321:targetgroup/other/00112233445566aa';

const roleOf = (fn: { role?: unknown }) => logicalId((fn.role as any).node.defaultChild.node.scope);
const assumes = (t: Template, fn: { role?: unknown }) =>
  statementsOfRole(t, roleOf(fn)).filter((s) => JSON.stringify(s.Action).includes('sts:'));

let sync: AlbSync;
let t: Template;
beforeAll(() => {
  const app = testApp();
  const stack = new Stack(app, 'CrossAccount');
  sync = new AlbSync(stack, 'AlbSync', {
    bindings: [BINDINGS[0], { ...BINDINGS[0], name: 'other', targetGroupArn: TG_OTHER, roleArn: ROLE }],
  });
  t = synthOnce(app, stack).template(stack);
});

test('diff, register and deregister may assume exactly the bindings\' roles', () => {
  for (const fn of [sync.functions.diff, sync.functions.register, sync.functions.deregister]) {
    expect(assumes(t, fn)).toEqual([{ Action: 'sts:AssumeRole', Effect: 'Allow', Resource: ROLE, Sid: 'AssumeBindingRolesOnly' }]);
  }
  for (const fn of [sync.functions.resolve]) expect(assumes(t, fn)).toEqual([]);
});

test('the schedule input of the cross-account binding carries its role; the other binding none', () => {
  const inputs = (Object.values(t.findResources('AWS::Scheduler::Schedule')) as any[]).map((s) => JSON.parse(s.Properties.Target.Input));
  const byName = Object.fromEntries(inputs.map((i) => [i.name, i]));
  expect(byName.other.roleArn).toBe(ROLE);
  expect(byName.web.roleArn).toBeUndefined();
});

test('without any roleArn no function may assume a role', () => {
  const app = testApp();
  const stack = new Stack(app, 'SameAccount');
  const same = new AlbSync(stack, 'AlbSync', { bindings: [BINDINGS[0]] });
  const tt = synthOnce(app, stack).template(stack);
  for (const fn of same.functions.all) expect(assumes(tt, fn)).toEqual([]);
});
