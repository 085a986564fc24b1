import * as fs from 'node:fs';
import * as path from 'node:path';
import { Fn, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { AlbSyncPropsError } from './binding';
import { AlbSyncFunctions } from './functions';

/** The `${...}` placeholders the definition file uses (docs/architecture.md), mapped to the functions. */
export const SUBSTITUTION_KEYS = ['ResolveFunctionArn', 'DiffFunctionArn', 'RegisterFunctionArn', 'DeregisterFunctionArn'] as const;

/**
 * The state machine definition: the repository's (from cdk/lib/ or cdk/dist/lib/), else the copy an installed
 * package carries in dist/statemachine/ (scripts/build-library.js).
 */
export function defaultDefinitionPath(): string {
  for (const rel of ['../statemachine/albsync.asl.json', '../../statemachine/albsync.asl.json', '../../../statemachine/albsync.asl.json']) {
    const p = path.resolve(__dirname, rel);
    if (fs.existsSync(p)) return p;
  }
  return path.resolve(__dirname, '../../statemachine/albsync.asl.json');
}

/** Every `${Name}` placeholder in a definition text, sorted and deduplicated. */
export function placeholdersIn(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]))].sort();
}

/**
 * The `error` an execution fails with when a safety rail trips: the function's error name itself (uncaught) and
 * the `Error` of every Fail state a Catch on that name leads to (nested Map/Parallel states included).
 */
export function failErrorsFor(definition: any, errorName: string): string[] {
  const found = new Set<string>([errorName]);
  const visit = (states: Record<string, any>) => {
    for (const st of Object.values(states ?? {})) {
      for (const c of st.Catch ?? []) {
        const target = states[c.Next];
        if ((c.ErrorEquals ?? []).includes(errorName) && target?.Type === 'Fail' && typeof target.Error === 'string') {
          found.add(target.Error);
        }
      }
      const inner = st.ItemProcessor ?? st.Iterator;
      if (inner?.States) visit(inner.States);
      for (const b of st.Branches ?? []) visit(b.States);
    }
  };
  visit(definition.States);
  return [...found];
}

/** Props of {@link Workflow}. */
export interface WorkflowProps {
  /** The functions the definition's Task states call. */
  readonly functions: AlbSyncFunctions;
  /** Path of the ASL file (JSONPath, with the four placeholders). */
  readonly definitionPath: string;
  /** Standard (default: history and graph of every run) or Express (cheaper). */
  readonly type: sfn.StateMachineType;
  /** Which execution events go to CloudWatch Logs. Never OFF: the safety-rail alarm reads the log. */
  readonly logLevel: sfn.LogLevel;
  /** Retention of the state machine's log group. */
  readonly logRetention: logs.RetentionDays;
  /** X-Ray tracing of executions. */
  readonly tracing: boolean;
  /** Removal policy of the log group. */
  readonly logRemovalPolicy: RemovalPolicy;
}

/**
 * The state machine, loaded from the definition file and inlined in the template (`DefinitionString`, so
 * assertions can read the states), with its substitutions, logging and optional tracing. Its role may invoke the
 * four functions and nothing else.
 */
export class Workflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** The substitutions given to the definition (placeholder -> function ARN token). */
  public readonly substitutions: Record<string, string>;
  /** The parsed definition (before substitution). */
  public readonly definition: any;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    if (!fs.existsSync(props.definitionPath)) {
      throw new AlbSyncPropsError('definitionPath', `${props.definitionPath} does not exist`);
    }
    const text = fs.readFileSync(props.definitionPath, 'utf8');
    try {
      this.definition = JSON.parse(text);
    } catch (e) {
      throw new AlbSyncPropsError('definitionPath', `${props.definitionPath} is not JSON: ${(e as Error).message}`);
    }
    const f = props.functions;
    this.substitutions = {
      ResolveFunctionArn: f.resolve.functionArn,
      DiffFunctionArn: f.diff.functionArn,
      RegisterFunctionArn: f.register.functionArn,
      DeregisterFunctionArn: f.deregister.functionArn,
    };
    const unknown = placeholdersIn(text).filter((p) => !(p in this.substitutions));
    if (unknown.length > 0) {
      throw new AlbSyncPropsError('definitionPath', `placeholders without a substitution: ${unknown.join(', ')}`);
    }

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      // Vended-logs prefix: keeps the account's CloudWatch Logs resource policy small (AWS recommendation).
      // The stack id's UUID makes the name unique per stack instance, so a retained group never blocks a redeploy.
      logGroupName: `/aws/vendedlogs/states/${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}-${Fn.select(
        2,
        Fn.split('/', Stack.of(this).stackId),
      )}`,
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: props.type,
      definitionBody: sfn.DefinitionBody.fromString(text),
      definitionSubstitutions: this.substitutions,
      // No `timeout` here: aws-cdk-lib applies it only to chained definitions, never to DefinitionBody.fromString.
      // The limit is the definition's own TimeoutSeconds (a test checks it reaches the template).
      tracingEnabled: props.tracing,
      logs: {
        destination: this.logGroup,
        level: props.logLevel,
        // Failure events keep their error name and cause: the safety-rail metric filter matches on them.
        includeExecutionData: true,
      },
    });

    // Explicit: the definition is a string, so CDK grants nothing by itself. Unqualified ARNs only (no `:*`).
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'InvokeTheFourFunctionsOnly',
        actions: ['lambda:InvokeFunction'],
        resources: f.all.map((fn) => fn.functionArn),
      }),
    );

    const role = this.stateMachine.role.node.findChild('DefaultPolicy');
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only the actions Step Functions needs for CloudWatch Logs delivery (logs:CreateLogDelivery and friends, ' +
        'which have no resource-level permission) and, when tracing is on, X-Ray (xray:PutTraceSegments and ' +
        'friends, also resource-less) are on `*`; lambda:InvokeFunction is on the four function ARNs.',
    });
    if (props.logLevel !== sfn.LogLevel.ALL) {
      Validations.of(this.stateMachine).acknowledge({
        id: 'AwsSolutions-SF1',
        reason:
          `Log level ${props.logLevel} by choice: ALL would log every state of a run every minute. Failures are ` +
          'logged (the safety-rail alarm reads them); Standard keeps the full history in Step Functions.',
      });
    }
    if (!props.tracing) {
      Validations.of(this.stateMachine).acknowledge({
        id: 'AwsSolutions-SF2',
        reason: 'X-Ray tracing is off by default (the `tracing` prop turns it on); the execution history and logs cover a four-state run.',
      });
    }
  }
}
