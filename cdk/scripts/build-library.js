#!/usr/bin/env node
// Builds the construct library: JavaScript + .d.ts from lib/ into dist/lib (tsconfig.build.json), and copies
// the state machine definition and its error catalogue into dist/statemachine, where an installed package
// finds them (lib/workflow.ts defaultDefinitionPath).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
const out = path.join(root, 'dist', 'statemachine');
fs.mkdirSync(out, { recursive: true });
for (const f of ['albsync.asl.json', 'errors.json']) {
  fs.copyFileSync(path.join(root, '..', 'statemachine', f), path.join(out, f));
}
console.log('build-library: dist/lib/index.js, dist/lib/index.d.ts, dist/statemachine/');
