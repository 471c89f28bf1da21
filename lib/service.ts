import { Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SERVICE_NAME } from './constructs/service-function';
import { readStageConfig, type StageConfig } from './stage-config';
import type { StageSettings } from './stages';
import { StatefulStack } from './stateful-stack';
import { StatelessStack } from './stateless-stack';

/** The stacks of one stage of the service. */
export interface ServiceStacks {
  readonly config: StageConfig;
  readonly stateful: StatefulStack;
  readonly stateless: StatelessStack;
}

/** Options of addServiceStacks. */
export interface ServiceStacksOptions {
  /** The stage table to pick from. @default STAGES of lib/stages.ts */
  readonly stages?: Readonly<Record<string, StageSettings>>;
  /**
   * Synthesize a protected stage that still holds example values (tests, the cold-start bench).
   * bin/app.ts never sets it: `cdk synth` and `cdk deploy` refuse them. @default false
   */
  readonly allowExampleValues?: boolean;
}

/**
 * Adds the service's stacks for the stage named in the app's context, pinned to the account and
 * region of its entry in lib/stages.ts, and registers cdk-nag's AwsSolutions pack next to the
 * built-in CloudFormation validation, so every synth reports both. The CDK app and the
 * infrastructure tests both call this, so the tests check what is deployed.
 */
export const addServiceStacks = (app: App, options: ServiceStacksOptions = {}): ServiceStacks => {
  const config = readStageConfig(app, options.stages, { allowExampleValues: options.allowExampleValues ?? false });
  const env = config.env;
  // With the explicitStackTags flag, tags go on the stacks; CloudFormation copies them to resources.
  const tags = { service: SERVICE_NAME, stage: config.stage };
  const stateful = new StatefulStack(app, `MemberPass-${config.stage}-Stateful`, {
    env,
    tags,
    config,
    description: `MemberPass access codes (${config.stage}): data — table, queues, event bus, secrets`,
  });
  const stateless = new StatelessStack(app, `MemberPass-${config.stage}-Stateless`, {
    env,
    tags,
    config,
    stateful,
    description: `MemberPass access codes (${config.stage}): API, functions, schedule, event rules, alarms, dashboard`,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { config, stateful, stateless };
};
