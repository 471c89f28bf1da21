import { RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { LogLevel } from './constructs/service-function';

/** Deployment settings of one stage, read from CDK context (cdk.json or `cdk deploy -c key=value`). */
export interface StageConfig {
  /** Stage name, part of every stack name: `dev`, `staging`, `prod`, … */
  readonly stage: string;
  /** Outside dev, data must survive a stack deletion and cannot be deleted by accident. */
  readonly protectData: boolean;
  /** What happens to stateful resources and logs when their stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** How long function and access logs are kept. */
  readonly logRetention: logs.RetentionDays;
  /** POWERTOOLS_LOG_LEVEL of every function. */
  readonly logLevel: LogLevel;
  /** An existing SNS topic that alarms notify; without it, alarms only change state. */
  readonly alarmTopicArn: string | undefined;
  /**
   * Name of the Secrets Manager secret holding the Telegram bot token (a plain string). The
   * operator creates it before the first deploy; the stacks only reference it by name.
   */
  readonly telegramBotTokenSecretName: string;
  /**
   * Name of the Secrets Manager secret holding the secret token Telegram sends with webhook
   * updates (`X-Telegram-Bot-Api-Secret-Token`). Created by the operator, like the bot token.
   */
  readonly telegramWebhookSecretName: string;
  /** Base URL of the Telegram Bot API, for a proxy or a test server; the library's default without it. */
  readonly telegramApiRoot: string | undefined;
  /**
   * The bot's username (without `@`), for the deep links of `POST /v1/telegram/link`. Required
   * outside dev; in dev, without it, that route answers 500 (its function refuses to start).
   */
  readonly telegramBotUsername: string | undefined;
}

const LOG_LEVELS: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];

/** Thrown when a context value is unusable, naming the key, so `cdk synth` fails before building anything. */
export class StageConfigError extends Error {}

const optionalString = (scope: Construct, key: string): string | undefined => {
  const value: unknown = scope.node.tryGetContext(key);
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new StageConfigError(`Context "${key}" must be a string, got ${JSON.stringify(value)}`);
  return value;
};

/**
 * Secrets Manager's name alphabet. A bot token (`123456:ABC…`) contains a colon, so a token
 * pasted where its secret's name belongs is refused instead of landing in the template.
 */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

const secretName = (scope: Construct, key: string, fallback: string): string => {
  const name = optionalString(scope, key) ?? fallback;
  if (!SECRET_NAME.test(name)) {
    throw new StageConfigError(
      `Context "${key}" must be the name of a Secrets Manager secret (letters, digits and /_+=.@-), not its value`,
    );
  }
  return name;
};

/** Reads and checks the context keys documented in bin/app.ts. */
export const readStageConfig = (scope: Construct): StageConfig => {
  const stage = optionalString(scope, 'stage') ?? 'dev';
  // The stage is part of stack names and tags; keep it to what both accept.
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(stage)) {
    throw new StageConfigError(`Context "stage" must be lowercase letters, digits or "-" (max 20), got "${stage}"`);
  }
  const logLevel = (optionalString(scope, 'logLevel') ?? 'INFO').toUpperCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new StageConfigError(`Context "logLevel" must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const alarmTopicArn = optionalString(scope, 'alarmTopicArn');
  if (alarmTopicArn !== undefined && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w.-]+$/.test(alarmTopicArn)) {
    throw new StageConfigError(`Context "alarmTopicArn" must be an SNS topic ARN, got "${alarmTopicArn}"`);
  }
  const telegramApiRoot = optionalString(scope, 'telegramApiRoot');
  if (telegramApiRoot !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(telegramApiRoot)) {
    throw new StageConfigError(`Context "telegramApiRoot" must be an http(s) URL, got "${telegramApiRoot}"`);
  }
  const protectData = stage !== 'dev';
  const telegramBotUsername = optionalString(scope, 'telegramBotUsername')?.replace(/^@/, '');
  if (telegramBotUsername === undefined && protectData) {
    throw new StageConfigError(
      `Context "telegramBotUsername" is required for stage "${stage}": the bot's username, e.g. -c telegramBotUsername=memberpass_bot`,
    );
  }
  if (telegramBotUsername !== undefined && !/^\w{5,32}$/.test(telegramBotUsername)) {
    throw new StageConfigError(`Context "telegramBotUsername" must be a Telegram username (5-32 letters, digits or _), got "${telegramBotUsername}"`);
  }
  return {
    stage,
    protectData,
    removalPolicy: protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    logRetention: protectData ? logs.RetentionDays.THREE_MONTHS : logs.RetentionDays.ONE_WEEK,
    logLevel: logLevel as LogLevel,
    alarmTopicArn,
    telegramBotTokenSecretName: secretName(scope, 'telegramBotTokenSecretName', `memberpass/${stage}/telegram-bot-token`),
    telegramWebhookSecretName: secretName(scope, 'telegramWebhookSecretName', `memberpass/${stage}/telegram-webhook-secret`),
    telegramApiRoot,
    telegramBotUsername,
  };
};
