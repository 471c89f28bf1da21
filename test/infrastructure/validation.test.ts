import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CDK_JSON_CONTEXT, synthService, TEST_ENV, type SynthesizedService } from './synth';

const ALARM_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:memberpass-alarms';

// Two stages, as an operator would synthesize them: dev offline (no account, no region) and a
// protected stage pinned to an account. Synthesis itself throws under Jest on any error finding.
const stages: [string, () => SynthesizedService][] = [
  ['dev (environment-agnostic)', () => synthService({ stage: 'dev' })],
  ['prod (account and region, alarm topic)', () => synthService({ stage: 'prod', alarmTopicArn: ALARM_TOPIC }, TEST_ENV)],
];

describe.each(stages)('%s', (_name, synth) => {
  let service: SynthesizedService;
  beforeAll(() => {
    service = synth();
  });

  test('the built-in CloudFormation validation and cdk-nag report nothing, not even warnings', () => {
    const findings = service.validationReport.pluginReports.flatMap((report) =>
      report.violations.map((v) => `${report.pluginName}: ${v.severity} ${v.ruleName} — ${v.description}`),
    );
    expect(findings).toEqual([]);
  });

  test.each(['stateful', 'stateless'] as const)('cdk-nag AwsSolutions finds nothing unacknowledged in the %s stack', (which) => {
    const report = new AwsSolutionsChecks().validateScope(service[which]);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath)}`)).toEqual([]);
    expect(report.success).toBe(true);
  });
});

describe('the checks themselves', () => {
  // Guards against a green run that only means the checks were off (flag dropped from cdk.json,
  // plugin not registered): the same setup must reject a function CloudFormation would refuse.
  const brokenApp = () => {
    const app = new App({ context: CDK_JSON_CONTEXT });
    const stack = new Stack(app, 'Broken');
    new lambda.CfnFunction(stack, 'TooSmall', {
      code: { zipFile: 'exports.handler = async () => {}' },
      role: 'arn:aws:iam::123456789012:role/none',
      runtime: 'nodejs22.x',
      handler: 'index.handler',
      memorySize: 64,
    });
    return { app, stack };
  };

  test('cdk.json turns the built-in validation findings into synthesis errors', () => {
    expect(CDK_JSON_CONTEXT['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
    expect(() => brokenApp().app.synth()).toThrow(/MemorySize/);
  });

  test('cdk-nag reports what it is not told to ignore', () => {
    const { stack } = brokenApp();
    const ruleNames = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
    expect(ruleNames).toContain('AwsSolutions-L1');
    Validations.of(stack).acknowledge({ id: 'AwsSolutions-L1', reason: 'test' });
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).not.toContain('AwsSolutions-L1');
  });
});
