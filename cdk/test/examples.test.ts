/**
 * The README's construct snippet is examples/existing-alb.ts (type-checked by `tsc`, synthesized here), and the
 * library builds to JavaScript + .d.ts with one entry point.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { ExistingAlbStack } from '../examples/existing-alb';
import { dummyCodeDir, nagFindings, testApp } from './helpers';

const example = fs.readFileSync(path.join(__dirname, '..', 'examples', 'existing-alb.ts'), 'utf8');

test('cdk/README.md shows examples/existing-alb.ts verbatim, importing the package by name', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks).toContain(example.replace("from '../lib';", "from 'albsync-cdk';"));
});

test('the example synthesizes: one binding, its ALB and VPC looked up, e-mail subscribed, cdk-nag clean', () => {
  const app = testApp();
  const stack = new ExistingAlbStack(app, 'web', { env: { account: '123456789012', region: 'eu-west-1' }, codeDir: dummyCodeDir() });
  const asm = app.synth();
  const t = Template.fromJSON(asm.getStackArtifact(stack.artifactId).template);
  t.resourceCountIs('AWS::Scheduler::Schedule', 1);
  t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  t.hasResourceProperties('AWS::SSM::Parameter', { Name: '/albsync/web' });
  const providers = new Set((asm.manifest.missing ?? []).map((m) => m.provider));
  expect(providers).toContain('load-balancer');
  expect(providers).toContain('vpc-provider');
  expect(nagFindings(stack)).toEqual([]);
});

test('package.json: main and types point at the built entry point, which exports the construct', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
  expect(pkg.main).toBe('dist/lib/index.js');
  expect(pkg.types).toBe('dist/lib/index.d.ts');
  expect(pkg.peerDependencies).toHaveProperty('aws-cdk-lib');
  const index = fs.readFileSync(path.join(__dirname, '..', 'lib', 'index.ts'), 'utf8');
  for (const m of ['albsync', 'binding', 'code', 'config', 'alarms', 'functions', 'vpc-placement']) {
    expect(index).toContain(`export * from './${m}';`);
  }
  expect(index).not.toMatch(/export .*example-stack/);
});
