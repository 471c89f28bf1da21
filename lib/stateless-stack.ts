import { CfnOutput, Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AccessLogField, AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  CfnRoute,
  CfnStage,
  DomainName,
  HttpApi,
  HttpMethod,
  HttpRoute,
  HttpRouteKey,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type { Construct } from 'constructs';
import { API_ROUTES, type ApiRoute, type RouteAuth } from './api-routes';
import type { Needs } from '../functions/operations';
import { ServiceFunction } from './constructs/service-function';
import { serviceRulePrefix, tenantRuleName } from './constructs/event-consumers';
import { WEBHOOK_ROUTE_TIMEOUT_SECONDS, Webhooks } from './constructs/webhooks';
import { EVENT_RULES, toCdkEventPattern } from '../functions/contracts/event-rules';
import type { ConsumerId } from '../functions/contracts/consumers';
import { ENV } from '../functions/contracts/env';
import { ServiceMonitoring } from './monitoring';
import { addBillingAlarms } from './constructs/billing';
import { DELIVERER, DELIVERY_SAFETY_MARGIN_MS, MAX_RECEIVE_COUNT } from '../functions/contracts/pipeline-settings';
import { addConsumerFunctions } from './constructs/consumers';
import { addExpiryAlarms } from './constructs/expiry';
import { DEFAULT_ROUTE_THROTTLE, ROUTE_THROTTLES, type RouteThrottle } from './route-throttles';
import type { StatefulResources } from './stateful-stack';
import type { StageConfig } from './stage-config';

/** Why a route needs no API Gateway authorizer, by how it is protected. */
const AUTH_REASONS: Record<RouteAuth, string> = {
  bearer: 'Authorization happens in the function: bearer token hash + abilities checked per request.',
  'telegram-secret': "Telegram calls this route; the function checks Telegram's X-Telegram-Bot-Api-Secret-Token header against the webhook secret.",
  public: 'A public route on purpose (liveness, API description, auth discovery): it reveals nothing secret and changes nothing.',
};

/** Properties of the stateless stack. */
export interface StatelessStackProps extends StackProps {
  /** Settings of the stage being deployed. */
  readonly config: StageConfig;
  /** The table, queues, bus and secrets the functions use. */
  readonly stateful: StatefulResources;
  /** The routes to serve. @default API_ROUTES */
  readonly routes?: readonly ApiRoute[];
}

/**
 * The code and its front door: one Lambda per route of API_ROUTES behind an HTTP API, with
 * access logs and throttling; one Lambda per consumer of CONSUMERS (functions/contracts/consumers.ts)
 * on its queue, the table's stream, its schedule or the event rules (lib/constructs/consumers.ts);
 * the webhook queues; the rules of the event bus; and the alarms. Holds no data but the webhook
 * queues (retained on a protected stage), so it can be replaced at will.
 */
/** What a route's grants are given: the route, its stage's settings, and the resources they name. */
interface RouteGrantContext {
  readonly route: ApiRoute;
  readonly config: StageConfig;
  readonly stateful: StatefulResources;
  readonly webhooks: Webhooks;
}

/**
 * The grant and environment of each need an operation may declare (functions/operations/operation.ts
 * `Needs`), in this order: one entry per need, so that a need added to `Needs` does not compile
 * until it says what it grants (its production builder is `<need>Need` in functions/wiring.ts).
 */
const ROUTE_GRANTS: { readonly [K in keyof Needs]-?: (fn: ServiceFunction, value: NonNullable<Needs[K]>, context: RouteGrantContext) => void } = {
  table: (fn, access, { route, stateful }) => void fn.useTable(stateful.table, access).deleteItems(stateful.table, route.deletes ?? []),
  queue: (fn, _queue, { stateful }) => void fn.useQueue(ENV.QUEUE_URL, stateful.generationQueue),
  botUsername: (fn, _username, { route, config }) => {
    // The function parses it at cold start: without it, every call would fail there.
    if (config.telegramBotUsername === undefined) {
      throw new Error(`Stage "${config.stage}": ${route.method} ${route.path} needs the bot's username: set telegramBotUsername in lib/stages.ts.`);
    }
    fn.function.addEnvironment(ENV.TELEGRAM_BOT_USERNAME, config.telegramBotUsername);
  },
  bot: (fn, _bot, { config, stateful }) => {
    fn.useSecret(ENV.TELEGRAM_BOT_TOKEN_SECRET, stateful.telegramBotToken);
    if (config.telegramApiRoot !== undefined) fn.function.addEnvironment(ENV.TELEGRAM_API_ROOT, config.telegramApiRoot);
  },
  webhookSecret: (fn, _secret, { stateful }) => void fn.useSecret(ENV.TELEGRAM_WEBHOOK_TOKEN_SECRET, stateful.telegramWebhookSecret),
  cursorKey: (fn, _key, { stateful }) => void fn.useSecret(ENV.CURSOR_KEY_SECRET, stateful.cursorKey),
  // The endpoints and deliveries are items of the table (its grant); deleting an endpoint is the route's `deletes`.
  webhooks: () => undefined,
  webhookQueue: (fn, _queue, { webhooks }) => webhooks.grantRoute(fn),
};

export class StatelessStack extends Stack {
  /** The HTTP API. */
  readonly api: HttpApi;
  /** The stage that serves the API at its root URL. */
  readonly stage: HttpStage;
  /** Every function, by id: the route ids of API_ROUTES, then the consumer ids of CONSUMERS. */
  readonly functions: ReadonlyMap<string, ServiceFunction>;
  /** The function of each consumer of CONSUMERS (functions/contracts/consumers.ts), by consumer id. */
  readonly consumers: ReadonlyMap<ConsumerId, ServiceFunction>;
  /** One rule per EVENT_RULES entry, by rule id. */
  readonly eventRules: ReadonlyMap<string, events.Rule>;
  /** The schedule group of the service's schedules, whose metrics are alarmed on. */
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The custom domain of the API, when the stage has one. */
  readonly domainName: DomainName | undefined;
  /** Alarms and dashboard. */
  readonly monitoring: ServiceMonitoring;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { config, stateful } = props;
    const routes = props.routes ?? API_ROUTES;

    this.api = new HttpApi(this, 'HttpApi', {
      apiName: `memberpass-access-codes-${config.stage}`,
      description: 'MemberPass access codes public API',
      // The stage is created below: the built-in default stage takes no access log settings.
      createDefaultStage: false,
      // With a custom domain, clients and Telegram use it; the execute-api URL would be a way
      // around anything put in front of the domain (WAF through CloudFront, README).
      disableExecuteApiEndpoint: config.customDomain !== undefined,
    });
    this.domainName = config.customDomain
      ? new DomainName(this, 'ApiDomainName', {
          domainName: config.customDomain.domainName,
          certificate: acm.Certificate.fromCertificateArn(this, 'ApiCertificate', config.customDomain.certificateArn),
        })
      : undefined;

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: config.logRetention,
      removalPolicy: config.removalPolicy,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      autoDeploy: true,
      ...(this.domainName ? { domainMapping: { domainName: this.domainName } } : {}),
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
            // The status the integration (Lambda's invoke) returned; AccessLogField has no helper for it.
            integrationStatus: '$context.integration.status',
            integrationError: AccessLogField.contextIntegrationErrorMessage(),
            // Why API Gateway itself refused or failed a request (throttled, no route, integration failure).
            errorMessage: AccessLogField.contextErrorMessage(),
            errorResponseType: AccessLogField.contextErrorResponseType(),
            method: AccessLogField.contextHttpMethod(),
            path: AccessLogField.contextPath(),
            userAgent: AccessLogField.contextIdentityUserAgent(),
          }),
        ),
      },
      // Account-level limits are shared with every other API in the region; cap this one below
      // them. Per-route settings (each catalog entry's `throttle`, ROUTE_THROTTLES) are applied after the routes, below.
      throttle: DEFAULT_ROUTE_THROTTLE,
    });

    const functions = new Map<string, ServiceFunction>();
    const newFunction = (
      scope: Construct,
      id: string,
      props: { entry: string; description: string; timeout?: Duration; memorySize?: number; recursiveLoop?: lambda.RecursiveLoop },
    ) => {
      const fn = new ServiceFunction(scope, id, {
        ...props,
        logLevel: config.logLevel,
        logRetention: config.logRetention,
        logRemovalPolicy: config.removalPolicy,
      });
      functions.set(id, fn);
      return fn;
    };

    const webhooks = new Webhooks(this, 'Webhooks');

    for (const route of routes) {
      const fn = newFunction(this, route.id, {
        entry: route.entry,
        description: `${route.method} ${route.path}`,
        // A webhook route may make one attempt (test, retry) of up to the sender's 15 s.
        ...(route.needs.webhooks ? { timeout: Duration.seconds(WEBHOOK_ROUTE_TIMEOUT_SECONDS) } : {}),
      });
      // Each need of the catalog entry is a least-privilege grant plus its environment variable.
      for (const [need, grant] of Object.entries(ROUTE_GRANTS) as [keyof Needs, (fn: ServiceFunction, value: never, context: RouteGrantContext) => void][]) {
        const value = route.needs[need];
        if (value !== undefined) grant(fn, value as never, { route, config, stateful, webhooks });
      }

      const httpRoute = new HttpRoute(this, `${route.id}Route`, {
        httpApi: this.api,
        routeKey: HttpRouteKey.with(route.path, HttpMethod[route.method]),
        integration: new HttpLambdaIntegration(`${route.id}Integration`, fn.function),
      });
      // Bearer tokens are checked in the function against their stored hash and abilities
      // (functions/use-cases/authenticate.ts), which an API Gateway authorizer cannot express
      // without a second lookup per request; Telegram's webhook carries its secret token header
      // instead, checked in its function; /health is public on purpose.
      for (const rule of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
        Validations.of(httpRoute).acknowledge({ id: rule, reason: AUTH_REASONS[route.auth] });
      }
    }

    // A group of its own: Scheduler's metrics are per group, and the default group is shared.
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', { removalPolicy: config.removalPolicy });
    this.eventRules = this.addEventRules(config, stateful);
    // The background functions, each as its catalog entry says.
    this.consumers = addConsumerFunctions(this, newFunction, {
      table: stateful.table,
      queues: {
        generation: stateful.generationQueue,
        delivery: stateful.deliveryQueue,
        pipelineDeadLetter: stateful.generationDeadLetterQueue,
        billing: stateful.billing.queue,
        webhookDelivery: webhooks.deliveryQueue,
      },
      streamDeadLetterQueue: stateful.relayDeadLetterQueue,
      eventBus: stateful.eventBus,
      eventRules: this.eventRules,
      eventTargetDeadLetterQueue: stateful.eventTargetDeadLetterQueue,
      invokeDeadLetterQueue: webhooks.dispatchDeadLetterQueue,
      scheduleGroup: this.scheduleGroup,
      telegram: { botTokenSecret: stateful.telegramBotToken, apiRoot: config.telegramApiRoot },
      stripe: { secret: stateful.billing.stripeSecret, meterEventName: config.stripeMeterEventName },
    });
    this.functions = functions;
    this.applyRouteThrottles(ROUTE_THROTTLES);
    this.monitoring = this.addMonitoring(config, stateful);
    const consumer = (id: ConsumerId) => this.consumers.get(id)!;
    webhooks.addAlarms(this.monitoring, consumer('WebhookDelivery'));
    addExpiryAlarms(this.monitoring);
    addBillingAlarms(this.monitoring, consumer('BillingSweeper'));
    // Lambda cuts a recursive loop off silently (a dropped message): only the Deliverer may loop
    // (recursiveLoop Allow, bounded by the hop counter); any drop still pages.
    for (const id of ['Generator', 'Deliverer'] as const) {
      this.monitoring.alarm(`${id}RecursiveLoopAlarm`, consumer(id).function.metric('RecursiveInvocationsDropped', { period: Duration.minutes(5), statistic: 'Sum' }), {
        alarmDescription: `Lambda stopped a recursive loop through ${id}: a pipeline message was dropped and its job waits for the sweeper. See its logs for the job.`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      });
    }

    // Read by `npm run telegram:set-webhook` (README): the URL Telegram and clients must use.
    new CfnOutput(this, 'ApiUrl', {
      value: this.domainName ? `https://${config.customDomain!.domainName}/` : this.stage.url,
      description: 'Base URL of the HTTP API',
    });
    if (this.domainName) {
      new CfnOutput(this, 'ApiDomainTarget', {
        value: this.domainName.regionalDomainName,
        description: `Point a CNAME (or Route 53 alias) for ${config.customDomain!.domainName} here`,
      });
    }
  }

  /**
   * Throttling per route: an entry whose key is no route of the catalog fails the synth; each
   * entry whose route key is a route of this API becomes that route's settings on the stage; an
   * entry whose route this API lacks (a test's reduced route table) is skipped, since API Gateway
   * refuses settings for an unknown route. Routes are found in the construct tree, so this works
   * however they were declared. The stage waits for those routes.
   */
  private applyRouteThrottles(throttles: Readonly<Record<string, RouteThrottle>>): void {
    const routes = this.node
      .findAll()
      .filter((node): node is HttpRoute => node instanceof HttpRoute && node.httpApi === this.api)
      .map((route) => ({ route, key: (route.node.defaultChild as CfnRoute).routeKey }));
    // RouteSettings is untyped JSON in the L1: CloudFormation's own (PascalCase) names.
    const settings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const { route, key } of routes) {
      const throttle = throttles[key];
      if (!throttle) continue;
      settings[key] = { ThrottlingRateLimit: throttle.rateLimit, ThrottlingBurstLimit: throttle.burstLimit };
      this.stage.node.addDependency(route);
    }
    (this.stage.node.defaultChild as CfnStage).routeSettings = settings;
  }

  /**
   * One rule per EVENT_RULES entry on the service bus, with the same patterns as the local bus,
   * named with the service's prefix (the only names the event-target dead-letter queue accepts).
   * Their one target is the webhook dispatcher (Webhooks.routeEvents). No log group target: the
   * bus's archive already keeps every event (replayable), and a second copy in CloudWatch Logs
   * would cost per event and hold every event's data once more.
   */
  private addEventRules(config: StageConfig, stateful: StatefulResources): ReadonlyMap<string, events.Rule> {
    const rules = new Map<string, events.Rule>();
    for (const rule of EVENT_RULES) {
      rules.set(
        rule.id,
        new events.Rule(this, `${rule.id}Rule`, {
          eventBus: stateful.eventBus,
          ruleName: `${serviceRulePrefix(config.stage)}${rule.id}`,
          description: rule.description,
          eventPattern: toCdkEventPattern(rule.pattern) as events.EventPattern,
        }),
      );
    }
    return rules;
  }

  /** Alarms and the dashboard over everything above (lib/monitoring.ts). */
  private addMonitoring(config: StageConfig, stateful: StatefulResources): ServiceMonitoring {
    return new ServiceMonitoring(this, 'Monitoring', {
      stage: config.stage,
      alarmTopicArn: config.alarmTopicArn,
      apiStage: this.stage,
      functions: this.functions,
      longestNormalRunMs: {
        // By design it sends until DELIVERY_SAFETY_MARGIN_MS remain, then hands over: a run of
        // (timeout − margin) plus one send is normal. Past half the margin, a send or write hung.
        Deliverer: {
          ms: DELIVERER.timeoutSeconds * 1000 - DELIVERY_SAFETY_MARGIN_MS / 2,
          why: `it hands over when ${DELIVERY_SAFETY_MARGIN_MS / 1000} s remain, so a Telegram send or a table write hung past half that margin; the next such run times out mid-job (the queue retries it, the chat lease waits).`,
        },
      },
      streamConsumers: [
        { id: 'OutboxRelay', fn: this.consumers.get('OutboxRelay')!, lateWhat: 'events' },
        { id: 'BillingForwarder', fn: this.consumers.get('BillingForwarder')!, lateWhat: 'Stripe meter events (revenue)' },
      ],
      scheduled: {
        group: this.scheduleGroup,
        functions: [
          { id: 'Sweeper', fn: this.consumers.get('Sweeper')!, stalls: 'Stalled jobs stay stalled.' },
          { id: 'ExpirySweeper', fn: this.consumers.get('ExpirySweeper')!, stalls: 'No code is stored as expired and no access_code.expired is sent (redemption still refuses expired codes).' },
          { id: 'WebhookSweeper', fn: this.consumers.get('WebhookSweeper')!, stalls: 'Webhook retries past 15 minutes, and deliveries a lost message left behind, are not attempted.' },
        ],
      },
      table: stateful.table,
      workQueues: [
        {
          id: 'GenerationQueue',
          queue: stateful.generationQueue,
          // Chunks are taken within seconds (the generator never waits on Telegram); 30 minutes
          // is a generator that has stopped, not a busy one.
          maxAge: Duration.minutes(30),
          description:
            'The oldest generation message has waited over 30 minutes: the generator is failing, throttled or too slow. See its errors and logs.',
        },
        {
          id: 'DeliveryQueue',
          queue: stateful.deliveryQueue,
          // Above SQS's longest delay (15 min), which the deliverer uses to wait out Telegram's 429s.
          maxAge: Duration.minutes(30),
          description:
            'The oldest delivery message has waited over 30 minutes: the deliverer is failing, throttled or too slow. See its errors and logs.',
        },
      ],
      deadLetterQueues: [
        {
          id: 'GenerationDeadLetterQueue',
          queue: stateful.generationDeadLetterQueue,
          description:
            'Pipeline messages wait on the generation dead-letter queue: the DeadLetter function is failing to fail their jobs. See its logs.',
          // Its consumer empties it within seconds, so depth alone would rarely show that jobs were abandoned.
          receivedDescription: `A pipeline message failed ${MAX_RECEIVE_COUNT} receives and was dead-lettered: its job was failed. See the Generator and Deliverer logs.`,
        },
        {
          id: 'RelayDeadLetterQueue',
          queue: stateful.relayDeadLetterQueue,
          description:
            'The outbox relay or the billing forwarder gave up on stream records: events were not published, or billed redemptions not queued for Stripe. The messages name the function, shard and sequence numbers; republish from the outbox items (kept 7 days); the billing records stay queued in the table (admin usage counts them).',
        },
        {
          id: 'BillingDeadLetterQueue',
          queue: stateful.billing.deadLetterQueue,
          description:
            'Billing messages kept crashing the billing function and were dead-lettered. The usage they name stays in the table and the billing sweep sends it once the function works; see the Billing logs.',
        },
        {
          id: 'EventTargetDeadLetterQueue',
          queue: stateful.eventTargetDeadLetterQueue,
          description: 'An event rule could not deliver events to its target for an hour; the events are on this queue (14 days).',
        },
      ],
      // The tenants' forwarding rules (stateful stack) by their fixed names: no cross-stack reference.
      eventRules: new Map<string, Pick<events.IRule, 'ruleName'>>([
        ...this.eventRules,
        ...config.tenantEventBuses.map((tenant) => [`Tenant${tenant.id}`, { ruleName: tenantRuleName(config.stage, tenant.id) }] as const),
      ]),
      eventBusName: stateful.eventBus.eventBusName,
    });
  }
}
