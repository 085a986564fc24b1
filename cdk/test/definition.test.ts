/**
 * Contracts between the definition file, the error catalogue and the CDK app (no synthesis needed).
 * statemachine/errors.json is generated from crates/albsync-core/src/errors.rs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SAFETY_RAIL_ERROR } from '../lib/alarms';
import { defaultDefinitionPath, failErrorsFor, placeholdersIn, SUBSTITUTION_KEYS } from '../lib/workflow';

const definitionPath = defaultDefinitionPath();
const definition = JSON.parse(fs.readFileSync(definitionPath, 'utf8'));
const errorsPath = path.join(path.dirname(definitionPath), 'errors.json');
const catalogue: { name: string; retryable: boolean }[] = JSON.parse(fs.readFileSync(errorsPath, 'utf8'));
const byName = new Map(catalogue.map((e) => [e.name, e]));

/** Every Retry and Catch clause of every state, nested Map/Parallel states included. */
function clauses(states: Record<string, any>, out: { state: string; kind: 'Retry' | 'Catch'; errors: string[] }[] = []) {
  for (const [name, st] of Object.entries(states)) {
    for (const r of st.Retry ?? []) out.push({ state: name, kind: 'Retry', errors: r.ErrorEquals });
    for (const c of st.Catch ?? []) out.push({ state: name, kind: 'Catch', errors: c.ErrorEquals });
    const inner = st.ItemProcessor ?? st.Iterator;
    if (inner?.States) clauses(inner.States, out);
    for (const b of st.Branches ?? []) clauses(b.States, out);
  }
  return out;
}

test('errors.json is a list of { name: "Albsync.*", retryable: boolean }', () => {
  expect(catalogue.length).toBeGreaterThan(0);
  for (const e of catalogue) {
    expect(e.name).toMatch(/^Albsync\.[A-Za-z]+$/);
    expect(typeof e.retryable).toBe('boolean');
  }
  expect(new Set(catalogue.map((e) => e.name)).size).toBe(catalogue.length);
});

test('the definition uses exactly the four documented placeholders', () => {
  expect(placeholdersIn(fs.readFileSync(definitionPath, 'utf8'))).toEqual([...SUBSTITUTION_KEYS].sort());
});

test('every Albsync.* name in Retry/Catch ErrorEquals exists in errors.json', () => {
  const used = clauses(definition.States).flatMap((c) => c.errors.filter((e) => e.startsWith('Albsync.')).map((e) => `${c.state}.${c.kind}: ${e}`));
  const unknown = used.filter((u) => !byName.has(u.split(': ')[1]));
  expect(unknown).toEqual([]);
});

test('Retry clauses name only retryable Albsync.* errors', () => {
  const wrong = clauses(definition.States)
    .filter((c) => c.kind === 'Retry')
    .flatMap((c) => c.errors.filter((e) => byName.get(e)?.retryable === false).map((e) => `${c.state}: ${e}`));
  expect(wrong).toEqual([]);
});

test('the error the safety-rail alarm matches is in the catalogue', () => {
  expect(byName.has(SAFETY_RAIL_ERROR)).toBe(true);
});

/** Every Task state, nested ones included. */
function tasks(states: Record<string, any>, out: [string, any][] = []): [string, any][] {
  for (const [name, st] of Object.entries(states)) {
    if (st.Type === 'Task') out.push([name, st]);
    const inner = st.ItemProcessor ?? st.Iterator;
    if (inner?.States) tasks(inner.States, out);
    for (const b of st.Branches ?? []) tasks(b.States, out);
  }
  return out;
}

test('a tripped safety rail fails the execution with an error the alarm knows', () => {
  // The deregister task may raise it: a catch-all there must come after a Catch that routes it to a Fail state.
  for (const [name, st] of tasks(definition.States).filter(([, s]) => s.Resource === '${DeregisterFunctionArn}')) {
    const catches: { ErrorEquals: string[]; Next: string }[] = st.Catch ?? [];
    const rail = catches.findIndex((c) => c.ErrorEquals.includes(SAFETY_RAIL_ERROR));
    const all = catches.findIndex((c) => c.ErrorEquals.includes('States.ALL') || c.ErrorEquals.includes('States.TaskFailed'));
    if (all >= 0) {
      expect({ state: name, railCatchBeforeCatchAll: rail >= 0 && rail < all }).toEqual({ state: name, railCatchBeforeCatchAll: true });
    }
    if (rail >= 0) expect(definition.States[catches[rail].Next]?.Type).toBe('Fail');
  }
  expect(failErrorsFor(definition, SAFETY_RAIL_ERROR)[0]).toBe(SAFETY_RAIL_ERROR);
});

test('failErrorsFor finds the Fail states a Catch on the name leads to, nested ones included', () => {
  const def = {
    States: {
      A: { Type: 'Task', Catch: [{ ErrorEquals: ['X'], Next: 'F1' }, { ErrorEquals: ['States.ALL'], Next: 'F2' }] },
      F1: { Type: 'Fail', Error: 'XFailed' },
      F2: { Type: 'Fail', Error: 'Other' },
      M: {
        Type: 'Map',
        ItemProcessor: { States: { T: { Type: 'Task', Catch: [{ ErrorEquals: ['X', 'Y'], Next: 'G' }] }, G: { Type: 'Fail', Error: 'Inner' } } },
      },
      P: { Type: 'Parallel', Branches: [{ States: { U: { Type: 'Task', Catch: [{ ErrorEquals: ['X'], Next: 'S' }] }, S: { Type: 'Succeed' } } }] },
    },
  };
  expect(failErrorsFor(def, 'X')).toEqual(['X', 'XFailed', 'Inner']);
  expect(failErrorsFor(def, 'Z')).toEqual(['Z']);
});
