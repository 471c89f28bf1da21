#!/usr/bin/env node
/**
 * The CDK app: `npx cdk synth -c stage=<name>` / `npx cdk deploy --all -c stage=<name>`.
 *
 * The one context key is `stage` (default "dev"): it picks an entry of lib/stages.ts, which holds
 * everything about a stage — account, region, data protection, alarm topic, bot username, log
 * level, the table's write ceiling, an optional custom domain, the event consumers. The caller's
 * AWS profile decides nothing: a protected stage is pinned to its account and region (a deploy
 * with credentials for another account fails), and its synth fails, naming the fields, when
 * lib/stages.ts lacks a required field or still holds an example value (the committed prod
 * entry does until an operator fills it in). No flag here lets example values through.
 */
import { App } from 'aws-cdk-lib';
import { addServiceStacks } from '../lib/service';

addServiceStacks(new App());
