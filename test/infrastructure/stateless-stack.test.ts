import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { Match } from 'aws-cdk-lib/assertions';
import { API_ROUTES } from '../../lib/api-routes';
import { CONSUMERS, consumerEntry } from '../../functions/contracts/consumers';
import { STAGES } from '../../lib/stages';
import { TABLE_SCHEMA } from '../../functions/contracts/table';
import { actionsOf, inspect, logicalIdOf } from './inspect';
import { bundledSources, nagFindings, reportedFindings, synthService, type SynthesizedService } from './synth';

// The one synthesis of the infrastructure tests that bundles the functions with esbuild (the
// entry point test reads the bundles); done once for the whole file.
const ALARM_TOPIC = STAGES.prod!.alarmTopicArn!;
/** The functions that serve no route (the consumer catalog), and the entry point each must be bundled from. */
const PIPELINE_ENTRIES: Record<string, string> = Object.fromEntries(CONSUMERS.map((consumer) => [consumer.id, consumerEntry(consumer)]));
const ALL_FUNCTION_IDS = [...API_ROUTES.map((route) => route.id), ...Object.keys(PIPELINE_ENTRIES)];

let service: SynthesizedService;
let view: ReturnType<typeof inspect>;
let tableLogicalId: string;

beforeAll(() => {
  service = synthService({ stage: 'prod' }, { bundle: true });
  view = inspect(service);
  tableLogicalId = view.statefulId('AWS::DynamoDB::GlobalTable');
});

const fromStateful = (value: unknown) => view.fromStateful(value);
const functionOf = (id: string) => view.functionOf(id);
const statementsOf = (id: string) => view.statementsOf(id);
const TABLE_ARN = () => ({ 'Fn::GetAtt': [tableLogicalId, 'Arn'] });
const TABLE_REF = () => ({ Ref: tableLogicalId });
const dynamoStatements = (routeId: string) =>
  statementsOf(routeId).filter((s) => actionsOf(s).some((action) => action.startsWith('dynamodb:')));

/** The entry points (functions/entrypoints/…) in the source map of a function's bundle. */
// Entry point modules only: the OpenAPI route's bundle also holds the JSON document built beside its entry.
const bundledEntryPoints = (id: string) =>
  bundledSources(service.assemblyDir, functionOf(id).resource.Properties.Code.S3Key).filter(
    (source) => source.includes('functions/entrypoints/') && source.endsWith('.ts'),
  );

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
      const integration = view.resources[integrationId]!;
      expect(integration.Type).toBe('AWS::ApiGatewayV2::Integration');
      expect(integration.Properties).toMatchObject({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' });

      const fn = functionOf(route.id);
      expect(integration.Properties.IntegrationUri).toEqual({ 'Fn::GetAtt': [fn.id, 'Arn'] });
      const entryPoints = bundledEntryPoints(route.id);
      expect(entryPoints).toHaveLength(1);
      expect(entryPoints[0]!.endsWith(`/${route.entry}`)).toBe(true);
    },
  );

  test.each(Object.entries(PIPELINE_ENTRIES))('%s is bundled from %s', (id, entry) => {
    const entryPoints = bundledEntryPoints(id);
    expect(entryPoints).toHaveLength(1);
    expect(entryPoints[0]!.endsWith(`/${entry}`)).toBe(true);
  });

  test('the deliverer bundle keeps its top-level await: ESM output', () => {
    const { S3Key } = functionOf('Deliverer').resource.Properties.Code;
    const assetDir = `${service.assemblyDir}/asset.${String(S3Key).replace(/\.zip$/, '')}`;
    expect(readdirSync(assetDir)).toContain('index.mjs');
  });

  test('every consumer\'s bundle starts on its template environment alone: its handler is built at cold start', async () => {
    const run = promisify(execFile);
    for (const consumer of CONSUMERS) {
      const { Code, Environment } = functionOf(consumer.id).resource.Properties;
      const bundle = `${service.assemblyDir}/asset.${String(Code.S3Key).replace(/\.zip$/, '')}/index.mjs`;
      // What CloudFormation resolves at deploy time (ARNs, URLs, names), replaced by something of its shape.
      const variables = Object.fromEntries(
        Object.entries((Environment?.Variables ?? {}) as Record<string, unknown>).map(([name, value]) => [
          name,
          typeof value === 'string' ? value : name.endsWith('_URL') ? `https://sqs.eu-west-1.amazonaws.com/123456789012/${name.toLowerCase()}` : `test-${name.toLowerCase()}`,
        ]),
      );
      const { stdout } = await run(
        process.execPath,
        ['--input-type=module', '-e', "const { handler } = await import(process.env.BUNDLE_URL); process.stdout.write(typeof handler);"],
        // No network is reached at cold start: the Stripe key's early read may fail in the background, and is read again on first use.
        { env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', ...variables, NODE_OPTIONS: '', BUNDLE_URL: pathToFileURL(bundle).href } },
      );
      expect([consumer.id, stdout]).toEqual([consumer.id, 'function']);
    }
  }, 60_000);

  test('what the MCP function imports on its first call ships beside index.mjs as a chunk, and that chunk loads', async () => {
    const { S3Key } = functionOf('Mcp').resource.Properties.Code;
    const chunkDir = `${service.assemblyDir}/asset.${String(S3Key).replace(/\.zip$/, '')}/chunks`;
    const sdkChunk = readdirSync(chunkDir).find((file) => file.startsWith('mcp-handler-') && file.endsWith('.mjs'));
    expect(sdkChunk).toBeDefined();
    // The chunk's source map lists the MCP SDK: it is not in index.mjs, read at cold start.
    expect(JSON.stringify(JSON.parse(readFileSync(`${chunkDir}/${sdkChunk}.map`, 'utf8')).sources)).toContain('@modelcontextprotocol/sdk');
    expect(bundledSources(service.assemblyDir, S3Key).some((source) => source.includes('@modelcontextprotocol/sdk'))).toBe(false);
    const loaded = (await import(pathToFileURL(`${chunkDir}/${sdkChunk}`).href)) as Record<string, unknown>;
    expect(Object.values(loaded).some((value) => typeof value === 'function')).toBe(true);
  });

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
  test('the stack has one function per route and the pipeline and webhook functions, no others', () => {
    expect([...service.stateless.functions.keys()].sort()).toEqual([...ALL_FUNCTION_IDS].sort());
    expect(Object.keys(service.statelessTemplate.findResources('AWS::Lambda::Function'))).toHaveLength(ALL_FUNCTION_IDS.length);
  });

  test('every function runs Node.js 22 on arm64 with tracing, source maps and Powertools settings', () => {
    const functions = Object.values(service.statelessTemplate.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(ALL_FUNCTION_IDS.length);
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
    for (const id of ALL_FUNCTION_IDS) {
      const logGroupId = logicalIdOf(functionOf(id).resource.Properties.LoggingConfig.LogGroup, 'Ref');
      expect(view.resources[logGroupId]!.Type).toBe('AWS::Logs::LogGroup');
      expect(view.resources[logGroupId]!.Properties.RetentionInDays).toBeGreaterThan(0);
      expect(statementsOf(id)).toContainEqual({
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
    for (const id of ALL_FUNCTION_IDS) {
      for (const statement of statementsOf(id).filter((s) => [s.Resource].flat().includes('*'))) {
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
          expect(TABLE_SCHEMA.indexes.map((index) => [`/index/${index.indexName}`])).toContainEqual(join[1].slice(1));
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

  test('health may read the table it probes, and write nothing', () => {
    const actions = dynamoStatements('Health').flatMap((statement) => [statement.Action].flat());
    expect(actions).toContain('dynamodb:GetItem');
    expect(actions.filter((action) => /Put|Update|Delete|Write/.test(String(action)))).toEqual([]);
    expect(fromStateful(functionOf('Health').resource.Properties.Environment.Variables.TABLE_NAME)).toEqual(TABLE_REF());
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
  const alarms = () => Object.values(service.statelessTemplate.findResources('AWS::CloudWatch::Alarm'));
  /** The alarms whose metric math reads `metricName` of function `id`. */
  const functionAlarms = (id: string, metricName: string) =>
    alarms().filter((alarm) =>
      (alarm.Properties.Metrics ?? []).some(
        (m: any) =>
          m.MetricStat?.Metric.MetricName === metricName &&
          JSON.stringify(m.MetricStat.Metric.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: functionOf(id).id } }]),
      ),
    );

  test('an alarm watches the 5xx rate of the API', () => {
    service.statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'IF(requests > 0, 100 * errors / requests, 0)' })]),
      Threshold: 5,
    });
    const fiveXx = alarms().filter((alarm) =>
      (alarm.Properties.Metrics ?? []).some((m: any) => m.MetricStat?.Metric.MetricName === '5xx' && m.MetricStat.Metric.Namespace === 'AWS/ApiGateway'),
    );
    expect(fiveXx).toHaveLength(1);
  });

  test.each(ALL_FUNCTION_IDS)('an alarm watches the error rate of %s', (id) => {
    const rate = functionAlarms(id, 'Errors');
    expect(rate).toHaveLength(1);
    expect(functionAlarms(id, 'Invocations')).toContainEqual(rate[0]);
  });

  test('every alarm notifies the topic of the stage, on alarm and on recovery', () => {
    expect(alarms().length).toBeGreaterThan(3 * ALL_FUNCTION_IDS.length);
    for (const alarm of alarms()) {
      expect(alarm.Properties.AlarmActions).toEqual([ALARM_TOPIC]);
      expect(alarm.Properties.OKActions).toEqual([ALARM_TOPIC]);
    }
  });
});
