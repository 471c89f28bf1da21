import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type Environment } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addServiceStacks, type ServiceStacks } from '../../lib/service';
import { STAGES, type StageSettings } from '../../lib/stages';

// import.meta.url, not import.meta.dirname: Jest 29's ESM support only provides the former.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The context of cdk.json, so the tests synthesize with exactly the flags `cdk synth` uses. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;

/** The account and region of the committed prod stage, which the tests synthesize. */
export const TEST_ENV: Required<Pick<Environment, 'account' | 'region'>> = { account: STAGES.prod!.account!, region: STAGES.prod!.region! };

/** One violation in the validation report aws-cdk-lib writes after synthesis. */
export interface ReportedViolation {
  ruleName: string;
  description: string;
  severity: string;
}

/** The parts of `validation-report.json` the tests read. */
export interface ValidationReport {
  pluginReports: { pluginName: string; conclusion: string; violations: ReportedViolation[] }[];
}

/** A synthesized stage of the service: the stacks, their templates and the validation report. */
export interface SynthesizedService extends ServiceStacks {
  readonly statefulTemplate: Template;
  readonly statelessTemplate: Template;
  /** The cloud assembly directory (templates, bundled assets, reports). */
  readonly assemblyDir: string;
  readonly validationReport: ValidationReport;
}

/** How to synthesize. */
export interface SynthOptions {
  /**
   * Bundle the functions with esbuild, as `cdk synth` does. Bundling changes nothing in the
   * templates (ServiceFunction hashes a bundle's inputs, not its output), and costs seconds per
   * function: only tests that read the bundles need it. @default false
   */
  readonly bundle?: boolean;
  /** Another stage table than lib/stages.ts, e.g. with a changed entry. @default STAGES */
  readonly stages?: Readonly<Record<string, StageSettings>>;
}

// Jest gives each test file its own module registry, so this cache serves one file: the template
// suites run as one file (templates.test.ts), so they share each synthesis. Callers only read it.
const cache = new Map<string, SynthesizedService>();

// The file's cloud assemblies (a bundled one holds tens of MB), removed once its tests are done.
const OUT_ROOT = mkdtempSync(path.join(tmpdir(), 'memberpass-synth-'));
afterAll(() => rmSync(OUT_ROOT, { recursive: true, force: true }));

/**
 * Builds the app as bin/app.ts does (same context as cdk.json, plus `context`, whose `stage`
 * picks the entry of lib/stages.ts) and synthesizes it once per file and arguments. Synthesis
 * runs the built-in CloudFormation validation and cdk-nag and, under Jest, throws with the
 * report when either finds an error.
 */
export const synthService = (context: Record<string, unknown> = {}, options: SynthOptions = {}): SynthesizedService => {
  const key = JSON.stringify({ context, bundle: options.bundle ?? false, stages: options.stages });
  const cached = cache.get(key);
  if (cached) return cached;
  // An empty list of stacks to bundle skips esbuild (cxapi.BUNDLING_STACKS).
  const bundling = options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] };
  const app = new App({ outdir: mkdtempSync(path.join(OUT_ROOT, 'cdk.out-')), context: { ...CDK_JSON_CONTEXT, ...bundling, ...context } });
  // The committed prod entry holds example values, which only this programmatic switch lets through.
  const stacks = addServiceStacks(app, { stages: options.stages, allowExampleValues: true });
  const assembly = app.synth();
  // Templates are read from the one assembly: Template.fromStack would synthesize (and bundle) again.
  const template = (stackName: string) => Template.fromJSON(assembly.getStackByName(stackName).template);
  const service: SynthesizedService = {
    ...stacks,
    statefulTemplate: template(stacks.stateful.stackName),
    statelessTemplate: template(stacks.stateless.stackName),
    assemblyDir: assembly.directory,
    validationReport: JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8')),
  };
  cache.set(key, service);
  return service;
};

/** Sources listed in the source map of a bundled Lambda asset, given the function's S3 key. */
export const bundledSources = (assemblyDir: string, s3Key: string): string[] => {
  const assetDir = path.join(assemblyDir, `asset.${s3Key.replace(/\.zip$/, '')}`);
  const map = JSON.parse(readFileSync(path.join(assetDir, 'index.mjs.map'), 'utf8')) as { sources: string[] };
  return map.sources;
};

/** Every finding of every validation plugin that ran during synthesis, errors and warnings alike. */
export const reportedFindings = (service: SynthesizedService): string[] =>
  service.validationReport.pluginReports.flatMap((report) =>
    report.violations.map((v) => `${report.pluginName}: ${v.severity} ${v.ruleName} — ${v.description}`),
  );

/** cdk-nag AwsSolutions findings in `scope` that no acknowledgement covers. */
export const nagFindings = (scope: IConstruct): string[] =>
  new AwsSolutionsChecks()
    .validateScope(scope)
    .violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
