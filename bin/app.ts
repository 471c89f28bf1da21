#!/usr/bin/env node
/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy --all`.
 *
 * Context keys (cdk.json, or `-c key=value` on the command line):
 *   stage          Stage name, part of the stack names MemberPass-<stage>-Stateful/-Stateless.
 *                  Default "dev". Any other stage turns on the table's deletion protection,
 *                  RETAIN removal policy, stack termination protection and longer log retention.
 *   logLevel       POWERTOOLS_LOG_LEVEL of every function: DEBUG | INFO | WARN | ERROR. Default INFO.
 *   alarmTopicArn  Optional ARN of an existing SNS topic that the alarms notify.
 *   telegramBotTokenSecretName  Secrets Manager secret holding the bot token (a plain string).
 *                  Default "memberpass/<stage>/telegram-bot-token".
 *   telegramWebhookSecretName   Secrets Manager secret holding the secret token Telegram sends
 *                  with webhook updates. Default "memberpass/<stage>/telegram-webhook-secret".
 *                  The stacks never create either secret nor see its value; the operator creates
 *                  both before deploying:
 *                    aws secretsmanager create-secret --name memberpass/prod/telegram-bot-token \
 *                      --secret-string "$TELEGRAM_BOT_TOKEN"
 *   telegramBotUsername  The bot's username (deep links of POST /v1/telegram/link). Required
 *                  for every stage but dev.
 *   telegramApiRoot      Optional base URL of the Bot API (a proxy); the public API without it.
 *
 * Environment: CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION (set by the CDK CLI from the active AWS
 * profile) pin the stacks to that account and region when present; without them the stacks are
 * environment-agnostic, which is enough for `cdk synth` offline.
 */
import { App } from 'aws-cdk-lib';
import { addServiceStacks } from '../lib/service';

const app = new App();
const { CDK_DEFAULT_ACCOUNT: account, CDK_DEFAULT_REGION: region } = process.env;
addServiceStacks(app, account || region ? { account, region } : undefined);
