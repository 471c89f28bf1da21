import { Match } from 'aws-cdk-lib/assertions';
import { API_ROUTES } from '../../lib/api-routes';
import { bundledSources, nagFindings, reportedFindings, synthService, TEST_ENV, type SynthesizedService } from './synth';

// Synthesis bundles every function with esbuild: do it once for the whole file.
const ALARM_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:memberpass-alarms';
let service: SynthesizedService;
type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;
let resources: Resources;
let statefulOutputs: Record<string, { Value: unknown }>;
let tableLogicalId: string;

beforeAll(() => {
  service = synthService({ stage: 'prod', alarmTopicArn: ALARM_TOPIC }, TEST_ENV);
  resources = service.statelessTemplate.toJSON().Resources;
  const stateful = service.statefulTemplate.toJSON();
  statefulOutputs = stateful.Outputs;
  tableLogicalId = Object.keys(service.statefulTemplate.findResources('AWS::DynamoDB::GlobalTable'))[0]!;
});

/** Replaces a reference to the stateful stack (weak or strong) by the value it exports. */
const fromStateful = (value: unknown): unknown => {
  const ref = value as Record<string, any>;
  if (ref?.['Fn::GetStackOutput']) {
    expect(ref['Fn::GetStackOutput'].StackName).toBe(service.stateful.stackName);
    return statefulOutputs[ref['Fn::GetStackOutput'].OutputName]?.Value;
  }
  if (ref?.['Fn::ImportValue']) {
    const exported = Object.values(statefulOutputs).find((o: any) => o.Export?.Name === ref['Fn::ImportValue']);
    return exported?.Value;
  }
  return value;
};
const TABLE_ARN = () => ({ 'Fn::GetAtt': [tableLogicalId, 'Arn'] });
const TABLE_REF = () => ({ Ref: tableLogicalId });

const logicalIdOf = (ref: unknown, kind: 'Ref' | 'Fn::GetAtt'): string => {
  const value = (ref as Record<string, any>)[kind];
  return kind === 'Ref' ? value : value[0];
};
const functionOf = (routeId: string) => {
  const fn = service.stateless.functions.get(routeId);
  if (!fn) throw new Error(`no function for route ${routeId}`);
  const id = service.stateless.getLogicalId(fn.function.node.defaultChild as never);
  return { id, resource: resources[id]! };
};
/** Every statement of every inline policy attached to the role of the function serving `routeId`. */
const statementsOf = (routeId: string): { Action: string | string[]; Resource: unknown; Effect: string }[] => {
  const roleId = logicalIdOf(functionOf(routeId).resource.Properties.Role, 'Fn::GetAtt');
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((role: unknown) => logicalIdOf(role, 'Ref') === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
};
const actionsOf = (statement: { Action: string | string[] }) => [statement.Action].flat();
const dynamoStatements = (routeId: string) =>
  statementsOf(routeId).filter((s) => actionsOf(s).some((action) => action.startsWith('dynamodb:')));

describe('validation of the protected stage', () => {
  test('the built-in CloudFormation validation and cdk-nag report nothing, not even warnings', () => {
    expect(reportedFindings(service)).toEqual([]);
  });

  test.each(['stateful', 'stateless'] as const)('cdk-nag AwsSolutions finds nothing unacknowledged in the %s stack', (which) => {
    expect(nagFindings(service[which])).toEqual([]);
  });
});

describe('routes', () => {
  test.each(API_ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s is routed to a Lambda bundled from its own entry point',
    (routeKey, route) => {
      const matches = service.statelessTemplate.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKey } });
      expect(Object.keys(matches)).toHaveLength(1);
      const target = Object.values(matches)[0]!.Properties.Target;
      const integrationId = target['Fn::Join'][1][1].Ref as string;
      const integration = resources[integrationId]!;
      expect(integration.Type).toBe('AWS::ApiGatewayV2::Integration');
      expect(integration.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });

      const fn = functionOf(route.id);
      expect(integration.Properties.IntegrationUri).toEqual({ 'Fn::GetAtt': [fn.id, 'Arn'] });
      const entryPoints = bundledSources(service.assemblyDir, fn.resource.Properties.Code.S3Key).filter((s) =>
        s.includes('functions/entrypoints/'),
      );
      expect(entryPoints).toHaveLength(1);
      expect(entryPoints[0]!.endsWith(`/${route.entry}`)).toBe(true);
    },
  );

  test('the API has no routes besides API_ROUTES', () => {
    const routeKeys = Object.values(service.statelessTemplate.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => r.Properties.RouteKey,
    );
    expect(routeKeys.sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  test('API Gateway may invoke each function only from this API', () => {
    for (const route of API_ROUTES) {
      const fn = functionOf(route.id);
      service.statelessTemplate.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [fn.id, 'Arn'] },
        Principal: 'apigateway.amazonaws.com',
        SourceArn: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([{ Ref: Match.stringLikeRegexp('^HttpApi') }])] }),
      });
    }
  });
});

describe('functions', () => {
  test('every function runs Node.js 22 on arm64 with tracing, source maps and Powertools settings', () => {
    const functions = Object.values(service.statelessTemplate.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(API_ROUTES.length);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        Environment: {
          Variables: expect.objectContaining({
            NODE_OPTIONS: '--enable-source-maps',
            POWERTOOLS_SERVICE_NAME: 'memberpass-access-codes',
            POWERTOOLS_LOG_LEVEL: 'INFO',
          }),
        },
      });
    }
  });

  test('every function logs to its own log group with a retention', () => {
    for (const route of API_ROUTES) {
      const logGroupId = logicalIdOf(functionOf(route.id).resource.Properties.LoggingConfig.LogGroup, 'Ref');
      expect(resources[logGroupId]!.Type).toBe('AWS::Logs::LogGroup');
      expect(resources[logGroupId]!.Properties.RetentionInDays).toBeGreaterThan(0);
      expect(statementsOf(route.id)).toContainEqual({
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
      });
    }
  });

  test('no role has a managed policy', () => {
    for (const role of Object.values(service.statelessTemplate.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  test('the only statements on Resource "*" are the X-Ray ones', () => {
    for (const route of API_ROUTES) {
      for (const statement of statementsOf(route.id).filter((s) => s.Resource === '*')) {
        expect(actionsOf(statement).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
      }
    }
  });
});

describe('table access', () => {
  test('preview may read the table and query its index, and nothing else', () => {
    const statements = dynamoStatements('PreviewAccessCodeCost');
    expect(statements.length).toBeGreaterThan(0);
    const actions = statements.flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
    for (const action of actions) {
      expect(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query']).toContain(action);
    }
    for (const statement of statements) {
      expect(statement.Effect).toBe('Allow');
      for (const resource of [statement.Resource].flat()) {
        expect(resource).not.toBe('*');
        const join = (resource as Record<string, any>)['Fn::Join'];
        if (join) {
          // `<table arn>/index/<name>`: only the table's own indexes.
          expect(fromStateful(join[1][0])).toEqual(TABLE_ARN());
          expect(join[1].slice(1)).toEqual(['/index/gsi1']);
          expect(actionsOf(statement)).toEqual(['dynamodb:Query']);
        } else {
          expect(fromStateful(resource)).toEqual(TABLE_ARN());
        }
      }
    }
  });

  test('preview gets the table name in TABLE_NAME', () => {
    const variables = functionOf('PreviewAccessCodeCost').resource.Properties.Environment.Variables;
    expect(fromStateful(variables.TABLE_NAME)).toEqual(TABLE_REF());
  });

  test('health has neither table permissions nor TABLE_NAME', () => {
    expect(dynamoStatements('Health')).toEqual([]);
    expect(functionOf('Health').resource.Properties.Environment.Variables.TABLE_NAME).toBeUndefined();
  });

  test.each(API_ROUTES.map((route) => [route.id, route.tableAccess] as const))(
    '%s has TABLE_NAME exactly when its route declares table access (%s)',
    (routeId, access) => {
      const variables = functionOf(routeId).resource.Properties.Environment.Variables;
      expect(variables.TABLE_NAME !== undefined).toBe(access !== 'none');
      expect(dynamoStatements(routeId).length > 0).toBe(access !== 'none');
      const writes = dynamoStatements(routeId)
        .flatMap(actionsOf)
        .filter((a) => /Put|Update|Delete|Write/.test(a));
      expect(writes.length > 0).toBe(access === 'readWrite');
    },
  );
});

describe('API stage', () => {
  test('the $default stage writes JSON access logs with the request id and is throttled', () => {
    service.statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AccessLogs'), 'Arn'] },
        Format: Match.stringLikeRegexp('"requestId":"\\$context\\.requestId"'),
      },
      DefaultRouteSettings: { ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() },
    });
  });

  test('the API URL is an output', () => {
    service.statelessTemplate.hasOutput('ApiUrl', {});
  });
});

describe('alarms', () => {
  test('an alarm watches the 5xx of the API', () => {
    service.statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Threshold: 1,
    });
  });

  test.each(API_ROUTES.map((route) => route.id))('an alarm watches the errors of %s', (routeId) => {
    service.statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionOf(routeId).id } }],
    });
  });

  test('every alarm notifies the topic from context, on alarm and on recovery', () => {
    const alarms = Object.values(service.statelessTemplate.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(API_ROUTES.length + 1);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([ALARM_TOPIC]);
      expect(alarm.Properties.OKActions).toEqual([ALARM_TOPIC]);
    }
  });
});
