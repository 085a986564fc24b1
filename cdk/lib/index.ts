// The albsync construct library: `import { AlbSync } from 'albsync-cdk'`. The example app (bin/app.ts,
// lib/example-stack.ts) is not part of it.
export * from './albsync';
export * from './alarms';
export * from './binding';
export * from './code';
export * from './config';
export * from './dashboard';
export * from './events';
export * from './functions';
export * from './schedules';
export * from './state-bucket';
export * from './vpc-placement';
export * from './workflow';
