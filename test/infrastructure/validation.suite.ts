import { App, Stack, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { CDK_JSON_CONTEXT, nagFindings, reportedFindings, synthService, type SynthesizedService } from './synth';

// dev as `cdk synth` runs offline: no account, no region (without bundling, which changes only
// the assets' S3 keys). The protected stage, pinned to an account, is checked the same way in
// stateless-stack.test.ts, which synthesizes it anyway.
// Synthesis itself throws under Jest on any error finding; these tests also catch warnings.
describe('dev, environment-agnostic', () => {
  let service: SynthesizedService;
  beforeAll(() => {
    service = synthService({ stage: 'dev' });
  });

  test('the built-in CloudFormation validation and cdk-nag report nothing, not even warnings', () => {
    expect(reportedFindings(service)).toEqual([]);
  });

  test.each(['stateful', 'stateless'] as const)('cdk-nag AwsSolutions finds nothing unacknowledged in the %s stack', (which) => {
    expect(nagFindings(service[which])).toEqual([]);
  });
});

describe('the checks themselves', () => {
  // Guards against a green run that only means the checks were off (flag dropped from cdk.json,
  // plugin not registered): the same setup must reject a function CloudFormation would refuse.
  const brokenStack = () => {
    const app = new App({ context: CDK_JSON_CONTEXT });
    const stack = new Stack(app, 'Broken');
    new lambda.CfnFunction(stack, 'TooSmall', {
      code: { zipFile: 'exports.handler = async () => {}' },
      role: 'arn:aws:iam::123456789012:role/none',
      runtime: 'nodejs22.x',
      handler: 'index.handler',
      memorySize: 64,
    });
    return stack;
  };

  test('cdk.json turns the built-in validation findings into synthesis errors', () => {
    expect(CDK_JSON_CONTEXT['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
    const app = brokenStack().node.root as App;
    expect(() => app.synth()).toThrow(/MemorySize/);
  });

  test('cdk-nag reports what is not acknowledged, and only that', () => {
    const stack = brokenStack();
    expect(nagFindings(stack)).toContainEqual(expect.stringMatching(/^error AwsSolutions-L1: Broken\/TooSmall$/));
    Validations.of(stack).acknowledge({ id: 'AwsSolutions-L1', reason: 'test' });
    expect(nagFindings(stack)).not.toContainEqual(expect.stringMatching(/AwsSolutions-L1/));
  });
});
