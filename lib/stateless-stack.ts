import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AccessLogField, AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpRoute, HttpRouteKey, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { API_ROUTES, type ApiRoute } from './api-routes';
import { ServiceFunction } from './constructs/service-function';
import type { StatefulResources } from './stateful-stack';
import type { StageConfig } from './stage-config';

/** Properties of the stateless stack. */
export interface StatelessStackProps extends StackProps {
  /** Settings of the stage being deployed. */
  readonly config: StageConfig;
  /** The table (and later queues and bus) the functions use. */
  readonly stateful: StatefulResources;
  /** The routes to serve. @default API_ROUTES */
  readonly routes?: readonly ApiRoute[];
}

/**
 * The code and its front door: one Lambda per route of API_ROUTES behind an HTTP API, with
 * access logs, throttling and alarms. Holds no data, so it can be replaced at will.
 */
export class StatelessStack extends Stack {
  /** The HTTP API. */
  readonly api: HttpApi;
  /** The stage that serves the API at its root URL. */
  readonly stage: HttpStage;
  /** The function serving each route, by route id. */
  readonly functions: ReadonlyMap<string, ServiceFunction>;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { config, stateful } = props;
    const routes = props.routes ?? API_ROUTES;

    this.api = new HttpApi(this, 'HttpApi', {
      apiName: `memberpass-access-codes-${config.stage}`,
      description: 'MemberPass access codes public API',
      // The stage is created below: the built-in default stage takes no access log settings.
      createDefaultStage: false,
    });

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: config.logRetention,
      removalPolicy: config.removalPolicy,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      autoDeploy: true,
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        // JSON, and the request id ties an access log line to the function's Powertools logs.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: AccessLogField.contextRequestId(),
            requestTime: AccessLogField.contextRequestTime(),
            ip: AccessLogField.contextIdentitySourceIp(),
            routeKey: AccessLogField.contextRouteKey(),
            status: AccessLogField.contextStatus(),
            protocol: AccessLogField.contextProtocol(),
            responseLength: AccessLogField.contextResponseLength(),
            responseLatency: AccessLogField.contextResponseLatency(),
            integrationLatency: AccessLogField.contextIntegrationLatency(),
            integrationError: AccessLogField.contextIntegrationErrorMessage(),
          }),
        ),
      },
      // Account-level limits are shared with every other API in the region; cap this one below them.
      throttle: { rateLimit: 100, burstLimit: 200 },
    });

    const functions = new Map<string, ServiceFunction>();
    for (const route of routes) {
      const fn = new ServiceFunction(this, route.id, {
        entry: route.entry,
        description: `${route.method} ${route.path}`,
        logLevel: config.logLevel,
        logRetention: config.logRetention,
        logRemovalPolicy: config.removalPolicy,
      }).useTable(stateful.table, route.tableAccess);
      functions.set(route.id, fn);

      const httpRoute = new HttpRoute(this, `${route.id}Route`, {
        httpApi: this.api,
        routeKey: HttpRouteKey.with(route.path, HttpMethod[route.method]),
        integration: new HttpLambdaIntegration(`${route.id}Integration`, fn.function),
      });
      // Bearer tokens are checked in the function against their stored hash and abilities
      // (functions/use-cases/authenticate.ts), which an API Gateway authorizer cannot express
      // without a second lookup per request; /health is public on purpose.
      for (const rule of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
        Validations.of(httpRoute).acknowledge({
          id: rule,
          reason: 'Authorization happens in the function: bearer token hash + abilities checked per request.',
        });
      }
    }
    this.functions = functions;

    this.addAlarms(config);

    new CfnOutput(this, 'ApiUrl', { value: this.stage.url, description: 'Base URL of the HTTP API' });
  }

  /** Modest alarms: any 5xx from the API, any unhandled error in a function. */
  private addAlarms(config: StageConfig): void {
    const alarms: cloudwatch.Alarm[] = [
      this.stage.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this, 'Api5xxAlarm', {
        alarmDescription: 'The API answered 5xx; see the access logs and the function logs by request id.',
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    for (const [id, fn] of this.functions) {
      alarms.push(
        fn.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this, `${id}ErrorsAlarm`, {
          alarmDescription: `${id} failed with an unhandled error or timed out.`,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    if (config.alarmTopicArn === undefined) return;
    const action = new SnsAction(sns.Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn));
    for (const alarm of alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }
}
