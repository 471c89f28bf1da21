import { DEFAULT_TABLE_NAME, resolveDataDir } from './data-dir';
import { startLocalStack } from './local-stack';
import { parseEnv, StripeEnv } from '../functions/contracts/env';

/**
 * What `npm start` does once its environment is settled (see bin/local.ts): start, print how to
 * call it, stop on a signal or when DynamoDB Local dies. Runs under `runWithConcurrentInvocations`.
 */
export const runLocalStack = async (env: NodeJS.ProcessEnv): Promise<void> => {
  const port = Number.parseInt(env.PORT ?? '3000', 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be a TCP port number, got "${env.PORT}".`);
    process.exit(2);
  }
  try {
    await start(env, port);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
};

const start = async (env: NodeJS.ProcessEnv, port: number): Promise<void> => {
  const dataDir = resolveDataDir(env);
  const stack = await startLocalStack({
    dataDir,
    host: env.HOST || '127.0.0.1',
    port,
    tableName: env.TABLE_NAME || DEFAULT_TABLE_NAME,
    ...(env.DYNAMODB_ENDPOINT ? { dynamoEndpoint: env.DYNAMODB_ENDPOINT } : {}),
    ...(env.DYNAMODB_AWS_BEHAVIOUR ? { awsBehaviour: { faultRate: Number(env.DYNAMODB_AWS_BEHAVIOUR) } } : {}),
    ...(env.TELEGRAM_BOT_TOKEN ? { telegramBotToken: env.TELEGRAM_BOT_TOKEN } : {}),
    ...(env.TELEGRAM_API_ROOT ? { telegramApiRoot: env.TELEGRAM_API_ROOT } : {}),
    ...(env.TELEGRAM_BOT_USERNAME ? { telegramBotUsername: env.TELEGRAM_BOT_USERNAME } : {}),
    ...(env.TELEGRAM_WEBHOOK_SECRET ? { telegramWebhookSecret: env.TELEGRAM_WEBHOOK_SECRET } : {}),
    ...(env.TELEGRAM_MESSAGE_INTERVAL_MS ? { messageIntervalMs: Number(env.TELEGRAM_MESSAGE_INTERVAL_MS) } : {}),
    ...(env.SWEEP_INTERVAL_MS ? { sweepIntervalMs: Number(env.SWEEP_INTERVAL_MS) } : {}),
    // On by default locally, so that `npm run webhook-receiver` on 127.0.0.1 works; 0 = production's guard.
    webhookAllowPrivateUrls: (env.WEBHOOK_ALLOW_PRIVATE_URLS ?? '1') === '1',
    // Checked like the billing function checks them (a bad key or base fails here, not at the first redemption).
    stripe: (() => {
      const stripe = parseEnv(StripeEnv, env);
      return {
        ...(stripe.STRIPE_SECRET_KEY ? { secretKey: stripe.STRIPE_SECRET_KEY } : {}),
        ...(stripe.STRIPE_API_BASE ? { apiBase: stripe.STRIPE_API_BASE } : {}),
        eventName: stripe.STRIPE_METER_EVENT_NAME,
      };
    })(),
    onFatal: (error) => {
      console.error(`\n${error.message}`);
      process.exit(1);
    },
  });
  const { demo } = stack;
  // The webhook secret is a credential: say where it is, never print it.
  console.log(`MemberPass access codes is running locally.

  API          ${stack.apiUrl}
  DynamoDB     ${stack.dynamoEndpoint} (${env.DYNAMODB_ENDPOINT ? `DYNAMODB_ENDPOINT, table ${env.TABLE_NAME || DEFAULT_TABLE_NAME}` : `DynamoDB Local, data in ${dataDir}/dynamodb`})${env.DYNAMODB_AWS_BEHAVIOUR ? `, with AWS's conflicts and throttles (random refusals ${env.DYNAMODB_AWS_BEHAVIOUR})` : ''}
  Telegram     ${stack.telegramTarget}
               bot @${stack.telegramBotUsername}; webhook ${stack.apiUrl}/telegram/webhook
               its secret token (header X-Telegram-Bot-Api-Secret-Token) is in ${stack.telegramWebhookSecretSource}
  Events       ${stack.pipeline.bus.eventsFile} (every event published, one per line)
  Webhooks     dispatched and delivered in process; http://127.0.0.1 URLs ${(env.WEBHOOK_ALLOW_PRIVATE_URLS ?? '1') === '1' ? 'allowed (WEBHOOK_ALLOW_PRIVATE_URLS=0 for the production guard)' : 'refused (production guard)'}
  Stripe       ${env.STRIPE_SECRET_KEY ? `stripe-node at ${env.STRIPE_API_BASE || 'https://api.stripe.com'}` : `ledger file ${dataDir}/stripe-ledger.jsonl (set STRIPE_SECRET_KEY for Stripe)`}
  Demo         ${stack.demoFile}
  Demo token   ${demo.token}
  Demo plan    ${demo.plan_id} (project ${demo.project_id}, 10 free redemptions a month, 0.03 USD each after)

Try it:
  curl -s ${stack.apiUrl}/health
  curl -s -X POST ${stack.apiUrl}/v1/access-codes/preview \\
    -H 'authorization: Bearer ${demo.token}' -H 'content-type: application/json' \\
    -d '{"plan_id":"${demo.plan_id}","quantity":50}'
  curl -s -X POST ${stack.apiUrl}/v1/access-codes/bulk-generate \\
    -H 'authorization: Bearer ${demo.token}' -H 'content-type: application/json' -H 'idempotency-key: demo-1' \\
    -d '{"plan_id":"${demo.plan_id}","quantity":5,"export_type":"file","expiry_preset":"1_month"}'
  curl -s ${stack.apiUrl}/v1/jobs/<job_id> -H 'authorization: Bearer ${demo.token}'

Ctrl-C stops everything.`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
};
