// Runs one execution of a state machine definition in aws-local-stepfunctions (the second, stricter ASL
// interpreter; needs Node 22: statemachine/node_modules/.bin/node) and prints one JSON line:
//   {"status": "SUCCEEDED" | "FAILED", "output": ..., "error": ..., "cause": ..., "path": [state names entered]}
// Usage: node run-local.mjs DEFINITION_FILE INPUT_JSON CONTEXT_JSON
// Lambda Task states call the Invoke API at AWS_ENDPOINT_URL_LAMBDA (the stand-in's Lambda emulator).
// Retry pauses are shortened to 50 ms per state, as the moto runs shorten them (testing/standin fast_retries).
import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';

const [definitionFile, inputText, contextText] = process.argv.slice(2);
if (!definitionFile || inputText === undefined || contextText === undefined) {
  console.error('usage: node run-local.mjs DEFINITION_FILE INPUT_JSON CONTEXT_JSON');
  process.exit(2);
}
const definition = JSON.parse(readFileSync(definitionFile, 'utf8'));
const input = JSON.parse(inputText);
const context = JSON.parse(contextText);

const retryIntervalOverrides = {};
const walk = (states) => {
  for (const [name, state] of Object.entries(states)) {
    if (state.Retry) retryIntervalOverrides[name] = 50;
    if (state.ItemProcessor) walk(state.ItemProcessor.States);
  }
};
walk(definition.States);

const machine = new StateMachine(definition);
const execution = machine.run(input, { context, overrides: { retryIntervalOverrides } });
const path = [];
const collect = (async () => {
  for await (const event of execution.eventLogs) {
    if (event.type === 'StateEntered') path.push(event.state.name);
  }
})();
let line;
try {
  const output = await execution.result;
  line = { status: 'SUCCEEDED', output };
} catch (e) {
  line = { status: 'FAILED', error: e.name === 'ExecutionError' ? e.cause?.name ?? e.message : e.name, cause: String(e.message ?? e) };
}
await collect.catch(() => {});
line.path = path;
console.log(JSON.stringify(line));
