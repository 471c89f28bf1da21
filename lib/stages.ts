/**
 * The one committed place for per-stage deployment settings. `cdk synth -c stage=<name>` picks an
 * entry; nothing about a stage comes from the caller's shell or AWS profile. A stage that protects
 * data must give every field `PROTECTED_STAGE_REQUIRES` names, or synth fails (lib/stage-config.ts).
 *
 * Plain data, no aws-cdk-lib: the set-webhook script reads it too.
 */

/** Log levels of the functions (Lambda's application log level and POWERTOOLS_LOG_LEVEL). */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** A custom domain in front of the HTTP API; with one, the execute-api endpoint is disabled. */
export interface CustomDomainSettings {
  /** e.g. `api.memberpass.example`; the operator points its DNS at the `ApiDomainTarget` output. */
  readonly domainName: string;
  /** An ACM certificate for `domainName`, in the stage's region (HTTP APIs use regional endpoints). */
  readonly certificateArn: string;
}

/**
 * A tenant that receives its own projects' events on an event bus of its own: the service puts
 * one rule on its bus matching only `projectIds` and forwarding to `eventBusArn` (README,
 * "EventBridge consumers"). The tenant's bus policy must let the service's account put events.
 */
export interface TenantEventBus {
  /** A short name for the rule and its role: letters, digits and `-`. */
  readonly id: string;
  /** The tenant's projects (`prj_…`): only their events are forwarded. */
  readonly projectIds: readonly string[];
  /** The tenant's event bus, in the stage's region: `arn:aws:events:<region>:<tenant account>:event-bus/<name>`. */
  readonly eventBusArn: string;
}

/** What a stage declares. Optional fields fall back to the defaults described on each. */
export interface StageSettings {
  /** AWS account the stage deploys to. Without it (dev only) the stacks are environment-agnostic. */
  readonly account?: string;
  /** AWS region the stage deploys to. Without it (dev only) the stacks are environment-agnostic. */
  readonly region?: string;
  /**
   * Keep data through deletions: table deletion protection and RETAIN, termination protection,
   * retained queues and secrets, 3-month log retention. Makes the fields of
   * PROTECTED_STAGE_REQUIRES mandatory.
   */
  readonly protectData: boolean;
  /** An existing SNS topic every alarm notifies (on alarm and on recovery). */
  readonly alarmTopicArn?: string;
  /** The bot's username without `@`, for the deep links of `POST /v1/telegram/link`. */
  readonly telegramBotUsername?: string;
  /** Another Bot API server (a proxy); the public API without it. */
  readonly telegramApiRoot?: string;
  /** Lambda application log level. @default 'INFO' */
  readonly logLevel?: LogLevel;
  /**
   * Ceiling on the table's on-demand write rate (write request units per second, table and
   * index each): a runaway loop is throttled (and alarmed on) instead of billed.
   */
  readonly maxWriteRequestUnits?: number;
  /** Optional custom domain for the API. */
  readonly customDomain?: CustomDomainSettings;
  /**
   * The operator's own AWS accounts (analytics, data lake) that may put rules of their own on the
   * service bus and so receive EVERY tenant's events (lib/constructs/event-consumers.ts). Never a
   * tenant's account: tenants get `tenantEventBuses`. @default none
   */
  readonly internalConsumerAccounts?: readonly string[];
  /** Tenants that receive their own projects' events on their own bus (one forwarding rule each). @default none */
  readonly tenantEventBuses?: readonly TenantEventBus[];
  /** Secrets Manager secret holding the Stripe key (created empty). @default `memberpass/<stage>/stripe-secret-key` */
  readonly stripeSecretName?: string;
  /** The Stripe Billing Meter's event name. @default 'access_code_redemption' */
  readonly stripeMeterEventName?: string;
}

/** The fields a stage with `protectData` must set (and none of them, nor any other, to an example value). */
export const PROTECTED_STAGE_REQUIRES = ['account', 'region', 'alarmTopicArn', 'telegramBotUsername', 'maxWriteRequestUnits'] as const;

/**
 * Every deployable stage. `prod` holds example values (documentation account ids, an `.example`
 * domain, an example bot): `cdk synth -c stage=prod` refuses them, naming each field, until they
 * are replaced with the real account, topic, certificate and bot (README, "Deploying"). The tests
 * synthesize it anyway, through addServiceStacks' `allowExampleValues`, which no CLI flag reaches.
 */
export const STAGES: Readonly<Record<string, StageSettings>> = {
  dev: {
    protectData: false,
    // A placeholder valid in shape: POST /v1/telegram/link builds its deep links with it, so set
    // your development bot's username here before linking chats in dev.
    telegramBotUsername: 'memberpass_dev_bot',
    logLevel: 'DEBUG',
    maxWriteRequestUnits: 200,
  },
  prod: {
    account: '111111111111',
    region: 'eu-west-1',
    protectData: true,
    alarmTopicArn: 'arn:aws:sns:eu-west-1:111111111111:memberpass-prod-alarms',
    telegramBotUsername: 'memberpass_example_bot',
    logLevel: 'INFO',
    // Sized in docs/CAPACITY.md ("Generation and the prod write ceiling"): generation (≤ 500
    // codes/s, ≈ 515 WRU/s) and the expiry sweep (1,000 codes/s, 4,000 WRU/s) at full pace
    // leave ≈ 3,500 WRU/s, about 250 billed redemptions/s, on the table; each index has as much.
    maxWriteRequestUnits: 8000,
    customDomain: {
      domainName: 'api.memberpass.example',
      certificateArn: 'arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-4000-8000-000000000000',
    },
  },
};
