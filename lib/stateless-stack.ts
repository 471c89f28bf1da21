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
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type { Construct } from 'constructs';
import { OUTBOX_ITEM_TYPE } from '../functions/contracts/outbox';
import { keys } from '../functions/contracts/table';
import { API_ROUTES, type ApiRoute, type RouteAuth } from './api-routes';
import { ServiceFunction } from './constructs/service-function';
import { serviceRulePrefix, tenantRuleName } from './constructs/event-consumers';
import { WEBHOOK_ROUTE_TIMEOUT_SECONDS, Webhooks } from './constructs/webhooks';
import { EVENT_RULES, toCdkEventPattern } from '../functions/contracts/event-rules';
import { ENV } from '../functions/contracts/env';
import { ServiceMonitoring } from './monitoring';
import { BillingFunctions } from './constructs/billing';
import {
  DEAD_LETTER_CONSUMER,
  DELIVERER,
  DELIVERY_SAFETY_MARGIN_MS,
  GENERATOR,
  MAX_RECEIVE_COUNT,
  RELAY_RETRY_ATTEMPTS,
  SWEEP_INTERVAL_SECONDS,
} from '../functions/contracts/pipeline-settings';
import { scheduleFunction } from './constructs/function-schedule';
import { ExpirySweep } from './constructs/expiry';
import { DEFAULT_ROUTE_THROTTLE, ROUTE_THROTTLES, type RouteThrottle } from './route-throttles';
import type { StatefulResources } from './stateful-stack';
import type { StageConfig } from './stage-config';

const SWEEP_INTERVAL = Duration.seconds(SWEEP_INTERVAL_SECONDS);

/** How EventBridge retries delivering an event to a rule's target before dead-lettering it. */
export const EVENT_TARGET_RETRY = { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 } as const;

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
 * access logs and throttling; the pipeline's functions (generator on the generation queue, its
 * dead-letter consumer, the sweepers on schedules, the outbox relay and billing forwarder on the
 * table's stream); webhooks; the rules of the event bus; and the alarms. Holds no data but the
 * webhook queues (retained on a protected stage), so it can be replaced at will.
 */
export class StatelessStack extends Stack {
  /** The HTTP API. */
  readonly api: HttpApi;
  /** The stage that serves the API at its root URL. */
  readonly stage: HttpStage;
  /** Every function, by id: the route ids of API_ROUTES, the webhook and billing functions, Generator, Deliverer, DeadLetter, Sweeper, OutboxRelay, ExpirySweeper. */
  readonly functions: ReadonlyMap<string, ServiceFunction>;
  /** Generates codes, fed by the generation queue; queues each generated job's delivery. */
  readonly generator: ServiceFunction;
  /** Delivers generated jobs over Telegram, fed by the delivery queue, within the bot's budget. */
  readonly deliverer: ServiceFunction;
  /** Fails the job of every message the pipeline queues dead-letter. */
  readonly deadLetter: ServiceFunction;
  /** The job sweeper: re-queues stalled jobs and fails hopeless ones, every SWEEP_INTERVAL. */
  readonly sweeper: ServiceFunction;
  /** Publishes the table's outbox items to the event bus. */
  readonly outboxRelay: ServiceFunction;
  /** The schedule that invokes the sweeper. */
  readonly sweepSchedule: scheduler.Schedule;
  /** One rule per EVENT_RULES entry, by rule id. */
  readonly eventRules: ReadonlyMap<string, events.Rule>;
  /** The schedule group of the service's schedules, whose metrics are alarmed on. */
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The custom domain of the API, when the stage has one. */
  readonly domainName: DomainName | undefined;
  /** Alarms and dashboard. */
  readonly monitoring: ServiceMonitoring;
  /** The expiry sweeper and its schedule (lib/constructs/expiry.ts). */
  readonly expirySweep: ExpirySweep;

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
      // them. Per-route settings (ROUTE_THROTTLES) are applied after the routes, below.
      throttle: DEFAULT_ROUTE_THROTTLE,
    });

    const functions = new Map<string, ServiceFunction>();
    const newFunction = (
      id: string,
      props: { entry: string; description: string; timeout?: Duration; memorySize?: number; recursiveLoop?: lambda.RecursiveLoop },
    ) => {
      const fn = new ServiceFunction(this, id, {
        ...props,
        logLevel: config.logLevel,
        logRetention: config.logRetention,
        logRemovalPolicy: config.removalPolicy,
      });
      functions.set(id, fn);
      return fn;
    };

    const webhooks = new Webhooks(this, 'Webhooks', { stateful, newFunction, targetRetry: EVENT_TARGET_RETRY, removalPolicy: config.removalPolicy });

    for (const route of routes) {
      const fn = newFunction(route.id, {
        entry: route.entry,
        description: `${route.method} ${route.path}`,
        // A webhook route may make one attempt (test, retry) of up to the sender's 15 s.
        ...(route.needs.webhooks ? { timeout: Duration.seconds(WEBHOOK_ROUTE_TIMEOUT_SECONDS) } : {}),
      });
      // Each need of the catalog entry is a least-privilege grant plus its environment variable.
      const { needs } = route;
      if (needs.table) fn.useTable(stateful.table, needs.table).deleteItems(stateful.table, route.deletes ?? []);
      if (needs.queue) fn.useQueue(ENV.QUEUE_URL, stateful.generationQueue);
      if (needs.botUsername) {
        // The function parses it at cold start: without it, every call would fail there.
        if (config.telegramBotUsername === undefined) {
          throw new Error(`Stage "${config.stage}": ${route.method} ${route.path} needs the bot's username: set telegramBotUsername in lib/stages.ts.`);
        }
        fn.function.addEnvironment('TELEGRAM_BOT_USERNAME', config.telegramBotUsername);
      }
      if (needs.bot) this.useTelegramBot(fn, config, stateful);
      if (needs.webhookSecret) fn.useSecret('TELEGRAM_WEBHOOK_TOKEN_SECRET', stateful.telegramWebhookSecret);
      if (needs.cursorKey) fn.useSecret('CURSOR_KEY_SECRET', stateful.cursorKey);
      webhooks.grantRoute(fn, needs);

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

    // The generator never sends to the queue that feeds it (every chunk is queued up front), so
    // Lambda's recursive-loop detection stays on: a chain that loops back to it is a bug.
    this.generator = newFunction('Generator', {
      entry: 'functions/entrypoints/generator.ts',
      description: 'Generates access codes (generation queue) and queues their delivery',
      timeout: Duration.seconds(GENERATOR.timeoutSeconds),
      memorySize: GENERATOR.memorySize,
    })
      .useTable(stateful.table, 'readWrite')
      .useQueue(ENV.DELIVERY_QUEUE_URL, stateful.deliveryQueue);
    this.generator.function.addEventSource(
      new SqsEventSource(stateful.generationQueue, {
        batchSize: GENERATOR.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: GENERATOR.maxConcurrency,
      }),
    );

    // The deliverer re-queues onto its own queue: a hand-over before its time runs out (a
    // 1000-message job needs ~10), one per long Telegram back-off, and the next job's turn at a
    // chat. Lambda would cut such a chain after ~16 invocations and dead-letter the job halfway,
    // so the loop is allowed here, and only here; the hop counter in each delivery message
    // (MAX_DELIVERY_HOPS) fails a job that loops, and an alarm reports any chain Lambda drops.
    this.deliverer = newFunction('Deliverer', {
      entry: 'functions/entrypoints/deliverer.ts',
      description: 'Delivers generated access codes over Telegram (delivery queue)',
      timeout: Duration.seconds(DELIVERER.timeoutSeconds),
      memorySize: DELIVERER.memorySize,
      recursiveLoop: lambda.RecursiveLoop.ALLOW,
    })
      .useTable(stateful.table, 'readWrite')
      // A job's wait for its chat's turn is deleted when the turn comes (chat leases).
      .deleteItems(stateful.table, [keys.chatLease('').pk])
      .useQueue(ENV.DELIVERY_QUEUE_URL, stateful.deliveryQueue);
    this.useTelegramBot(this.deliverer, config, stateful);
    // One message per invocation and at most DELIVERER.maxConcurrency invocations: the bot's
    // budget, bounded by construction (see DELIVERER).
    this.deliverer.function.addEventSource(
      new SqsEventSource(stateful.deliveryQueue, {
        batchSize: DELIVERER.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: DELIVERER.maxConcurrency,
      }),
    );

    this.deadLetter = newFunction('DeadLetter', {
      entry: 'functions/entrypoints/dead-letter.ts',
      description: 'Fails the job of every dead-lettered pipeline message',
      // Its queue's visibility timeout is derived from this (stateful stack).
      timeout: Duration.seconds(DEAD_LETTER_CONSUMER.timeoutSeconds),
    }).useTable(stateful.table, 'readWrite');
    // The handler fails the whole batch on an error, so no partial batch responses; a message
    // that keeps failing stays on the dead-letter queue (14 days) and its depth alarm fires.
    this.deadLetter.function.addEventSource(
      new SqsEventSource(stateful.generationDeadLetterQueue, {
        batchSize: DEAD_LETTER_CONSUMER.batchSize,
        maxConcurrency: DEAD_LETTER_CONSUMER.maxConcurrency,
      }),
    );

    this.sweeper = newFunction('Sweeper', {
      entry: 'functions/entrypoints/job-sweeper.ts',
      description: 'The job sweeper: re-queues stalled generation jobs and fails hopeless ones (every minute)',
      // Shorter than the interval, so that runs do not pile up.
      timeout: Duration.seconds(50),
    })
      .useTable(stateful.table, 'readWrite')
      .useQueue(ENV.QUEUE_URL, stateful.generationQueue)
      .useQueue(ENV.DELIVERY_QUEUE_URL, stateful.deliveryQueue);
    // A failed sweep is not retried: the next one is a minute away and does the same work.
    this.sweeper.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: SWEEP_INTERVAL });
    // A group of its own: Scheduler's metrics are per group, and the default group is shared.
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', { removalPolicy: config.removalPolicy });
    this.sweepSchedule = scheduleFunction(this, 'SweepSchedule', {
      function: this.sweeper.function,
      every: SWEEP_INTERVAL,
      description: 'Runs the job sweeper',
      group: this.scheduleGroup,
    });

    this.outboxRelay = newFunction('OutboxRelay', {
      entry: 'functions/entrypoints/outbox-relay.ts',
      description: 'Publishes the outbox items of the table stream to the event bus',
      timeout: Duration.seconds(30),
    }).useEventBus(stateful.eventBus);
    this.outboxRelay.function.addEventSource(
      new DynamoEventSource(stateful.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        // Bounded, so that one poisoned record cannot hold its shard until the stream drops it
        // (24 h); what is given up on is recorded on the relay dead-letter queue, alarmed on,
        // and can be republished from the outbox item, which the table keeps for 7 days.
        retryAttempts: RELAY_RETRY_ATTEMPTS,
        onFailure: new SqsDlq(stateful.relayDeadLetterQueue),
        // Only new outbox items invoke the relay, not every write to the table.
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('INSERT'),
            dynamodb: { NewImage: { type: { S: lambda.FilterRule.isEqual(OUTBOX_ITEM_TYPE) } } },
          }),
        ],
      }),
    );

    const billing = new BillingFunctions(this, 'BillingConsumers', {
      config,
      table: stateful.table,
      resources: stateful.billing,
      streamDeadLetterQueue: stateful.relayDeadLetterQueue,
      newFunction,
      every: SWEEP_INTERVAL,
      group: this.scheduleGroup,
    });

    this.expirySweep = new ExpirySweep(this, 'Expiry', {
      table: stateful.table,
      every: SWEEP_INTERVAL,
      group: this.scheduleGroup,
      functionDefaults: { logLevel: config.logLevel, logRetention: config.logRetention, logRemovalPolicy: config.removalPolicy },
    });
    functions.set('ExpirySweeper', this.expirySweep.sweeper);
    webhooks.scheduleSweep(this.scheduleGroup);
    this.functions = functions;
    this.eventRules = this.addEventRules(config, stateful);
    webhooks.routeEvents(this.eventRules);
    this.applyRouteThrottles(ROUTE_THROTTLES);
    this.monitoring = this.addMonitoring(config, stateful);
    webhooks.addAlarms(this.monitoring);
    this.expirySweep.addAlarms(this.monitoring);
    billing.addAlarms(this.monitoring);
    // Lambda cuts a recursive loop off silently (a dropped message): only the Deliverer may loop
    // (recursiveLoop Allow, bounded by the hop counter); any drop still pages.
    for (const [id, fn] of [['Generator', this.generator], ['Deliverer', this.deliverer]] as const) {
      this.monitoring.alarm(`${id}RecursiveLoopAlarm`, fn.function.metric('RecursiveInvocationsDropped', { period: Duration.minutes(5), statistic: 'Sum' }), {
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
   * Throttling per route: each `throttles` entry whose route key is a route of this API becomes
   * that route's settings on the stage; an entry whose route this API lacks (a test's reduced
   * route table) is skipped, since API Gateway refuses settings for an unknown route. Routes are found in the construct tree, so
   * this works however they were declared. The stage waits for those routes.
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

  /** Lets a function call the Bot API: the bot token's secret, and TELEGRAM_API_ROOT when configured. */
  private useTelegramBot(fn: ServiceFunction, config: StageConfig, stateful: StatefulResources): ServiceFunction {
    fn.useSecret('TELEGRAM_BOT_TOKEN_SECRET', stateful.telegramBotToken);
    if (config.telegramApiRoot !== undefined) fn.function.addEnvironment('TELEGRAM_API_ROOT', config.telegramApiRoot);
    return fn;
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
        { id: 'OutboxRelay', fn: this.outboxRelay, lateWhat: 'events' },
        { id: 'BillingForwarder', fn: this.functions.get('BillingForwarder')!, lateWhat: 'Stripe meter events (revenue)' },
      ],
      scheduled: {
        group: this.scheduleGroup,
        functions: [
          { id: 'Sweeper', fn: this.sweeper, stalls: 'Stalled jobs stay stalled.' },
          { id: 'ExpirySweeper', fn: this.expirySweep.sweeper, stalls: 'No code is stored as expired and no access_code.expired is sent (redemption still refuses expired codes).' },
          { id: 'WebhookSweeper', fn: this.functions.get('WebhookSweeper')!, stalls: 'Webhook retries past 15 minutes, and deliveries a lost message left behind, are not attempted.' },
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
