/**
 * `npm start`: the whole service on one machine, no AWS account needed.
 *
 * Environment: PORT (3000), HOST (127.0.0.1), LOCAL_DATA_DIR (.local), TABLE_NAME (memberpass-local),
 * TELEGRAM_BOT_TOKEN and TELEGRAM_API_ROOT (without a token: an outbox folder),
 * TELEGRAM_BOT_USERNAME, TELEGRAM_WEBHOOK_SECRET, TELEGRAM_MESSAGE_INTERVAL_MS (1100),
 * SWEEP_INTERVAL_MS (60000), POWERTOOLS_LOG_LEVEL (WARN), POWERTOOLS_METRICS_DISABLED (true).
 *
 * Only a bootstrap: Powertools reads its environment when the modules that build the logger and
 * metrics are evaluated, and static imports are evaluated before any line of this file runs.
 * So the environment is settled first, and the stack imported afterwards, inside the
 * invocation store (lambda-context imports nothing of Powertools).
 */
import { runWithConcurrentInvocations } from '../local/lambda-context';

process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
// Locally there is no CloudWatch to read EMF lines; they would only bury the logs.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Each invocation logs as itself though many run at once in this one process.
await runWithConcurrentInvocations(async () => {
  const { runLocalStack } = await import('../local/main');
  await runLocalStack(process.env);
});
