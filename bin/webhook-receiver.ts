/**
 * `npm run webhook-receiver -- --secret whsec_…`: a webhook receiver on 127.0.0.1 that verifies
 * every delivery with the `standardwebhooks` package and prints one line per request: time,
 * status answered, webhook-id, event type, and whether (and with which secret) it verified.
 * Give the endpoint's signing secret; during a rotation give both (--secret repeated).
 *
 * Options: --secret whsec_… (one or more, required), --port N (default 4400; 0 for any free
 * port), --fail N and --fail-status S (answer the first N requests with S, default 500, to
 * watch retries). The local stack must run with WEBHOOK_ALLOW_PRIVATE_URLS=1 to call it.
 */
import { parseArgs } from 'node:util';
import { startWebhookReceiver } from '../local/fakes/webhook-receiver';

const usage = 'Usage: npm run webhook-receiver -- --secret whsec_… [--secret whsec_…] [--port 4400] [--fail N] [--fail-status 500]';

const parse = () => {
  const { values } = parseArgs({
    options: {
      secret: { type: 'string', multiple: true },
      port: { type: 'string', default: '4400' },
      fail: { type: 'string', default: '0' },
      'fail-status': { type: 'string', default: '500' },
    },
  });
  const secrets = values.secret ?? [];
  const port = Number(values.port);
  const fail = Number(values.fail);
  const failStatus = Number(values['fail-status']);
  const problems = [
    secrets.length === 0 && 'at least one --secret is required',
    secrets.some((secret) => !secret.startsWith('whsec_')) && 'secrets start with whsec_',
    !(Number.isInteger(port) && port >= 0 && port < 65536) && '--port must be a port number',
    !(Number.isInteger(fail) && fail >= 0) && '--fail must be a whole number',
    !(Number.isInteger(failStatus) && failStatus >= 200 && failStatus < 600) && '--fail-status must be an HTTP status',
  ].filter((problem): problem is string => typeof problem === 'string');
  if (problems.length > 0) {
    console.error(`${problems.join('; ')}.\n${usage}`);
    process.exit(2);
  }
  return { secrets, port, fail, failStatus };
};

const main = async () => {
  const options = parse();
  const receiver = await startWebhookReceiver({ secrets: options.secrets, port: options.port });
  if (options.fail > 0) receiver.failNext(options.fail, options.failStatus);
  // The secrets are not printed: only how many there are.
  console.log(`Webhook receiver listening on ${receiver.url()} (verifying with ${options.secrets.length} secret(s)).`);
  receiver.onWebhook((webhook) => {
    const verified = webhook.verified
      ? `verified (secret #${webhook.verifiedWith.map((index) => index + 1).join(', #')})`
      : `NOT verified: ${[...new Set(webhook.verifyErrors)].join('; ')}`;
    console.log(`${webhook.receivedAt.toISOString()} ${webhook.status} id=${webhook.id || '-'} type=${webhook.type ?? '-'} ${verified}`);
  });

  const shutdown = async () => {
    const verified = receiver.received.filter((webhook) => webhook.verified).length;
    const ids = new Set(receiver.received.map((webhook) => webhook.id)).size;
    console.log(`${receiver.received.length} requests (${ids} distinct webhook-id), ${verified} verified.`);
    await receiver.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
};

void main().catch((error: unknown) => {
  console.error(`webhook-receiver: ${(error as Error).message}`);
  process.exit(1);
});
