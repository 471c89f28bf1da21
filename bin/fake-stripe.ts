/**
 * `npm run fake-stripe`: a fake Stripe API on 127.0.0.1 that takes Billing Meter events, for
 * trying overage billing end to end without a Stripe account. Point the local stack at it:
 *
 *   STRIPE_SECRET_KEY=sk_test_fake STRIPE_API_BASE=http://127.0.0.1:12111 npm start
 *
 * Options: --port N (default 12111), --key sk_… (the only key accepted; default any sk_/rk_ key),
 * --fail-for SECONDS and --fail-status 500|429 (fail every request for a while from the start),
 * --latency-ms N, --out FILE (accepted meter events, one JSON line each; default
 * .local/fake-stripe/meter-events.jsonl). While it runs, `curl -X POST
 * '<api base>/_fake/fail-for?ms=30000&status=500'` starts an outage. It prints one line per
 * call and, on Ctrl-C, a summary per customer.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeStripe } from '../local/fakes/fake-stripe';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '12111' },
    key: { type: 'string' },
    'fail-for': { type: 'string' },
    'fail-status': { type: 'string', default: '500' },
    'latency-ms': { type: 'string' },
    out: { type: 'string', default: '.local/fake-stripe/meter-events.jsonl' },
  },
});

const main = async () => {
  const fake = await startFakeStripe({
    port: Number(values.port),
    ...(values.key ? { apiKey: values.key } : {}),
    ...(values['latency-ms'] ? { latencyMs: Number(values['latency-ms']) } : {}),
  });
  const out = resolve(values.out ?? '.local/fake-stripe/meter-events.jsonl');
  mkdirSync(dirname(out), { recursive: true });
  if (values['fail-for']) fake.failFor(Number(values['fail-for']) * 1000, Number(values['fail-status']));
  console.log(
    `Fake Stripe API listening.\n\n  STRIPE_SECRET_KEY=${values.key ? '<your --key>' : 'sk_test_fake'}\n  STRIPE_API_BASE=${fake.apiBase}\n  meter events → ${out}\n`,
  );

  let seenCalls = 0;
  let seenEvents = 0;
  const timer = setInterval(() => {
    for (const event of fake.meterEvents.slice(seenEvents)) appendFileSync(out, `${JSON.stringify(event)}\n`);
    seenEvents = fake.meterEvents.length;
    for (const call of fake.calls.slice(seenCalls)) {
      const customer = call.params['payload[stripe_customer_id]'] ?? '';
      console.log(`${new Date().toISOString()} ${call.status} ${call.method} ${call.path} customer=${customer} identifier=${call.params.identifier ?? ''}${call.errorCode ? ` (${call.errorCode})` : ''}`);
    }
    seenCalls = fake.calls.length;
  }, 200);

  const shutdown = async () => {
    clearInterval(timer);
    for (const event of fake.meterEvents.slice(seenEvents)) appendFileSync(out, `${JSON.stringify(event)}\n`);
    const perCustomer = new Map<string, number>();
    for (const event of fake.meterEvents) {
      const customer = event.payload.stripe_customer_id ?? '';
      perCustomer.set(customer, (perCustomer.get(customer) ?? 0) + 1);
    }
    for (const [customer, count] of perCustomer) console.log(`customer ${customer}: ${count} meter events`);
    await fake.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
};

void main();
