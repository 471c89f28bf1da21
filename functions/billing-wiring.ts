import { secretString } from './adapters/secrets-manager';
import { earlyKeyReader } from './adapters/stripe/early-key-reader';
import { makeUsageBiller } from './adapters/stripe/factory';
import { STRIPE_KEY_MAX_AGE_SECONDS } from './contracts/billing-policy';
import { BillingEnv, parseEnv } from './contracts/env';
import { logger } from './observability';
import type { ConsumerPortsBuilder } from './consumer-wiring';

// The `stripe` need's production wiring, apart from functions/wiring.ts: only the billing
// function's entry point imports this module, so stripe-node is imported statically here
// (evaluated once, with the rest of the bundle) without landing in any other function's bundle.

/**
 * The Stripe biller of a consumer with the `stripe` need (the billing function). The Stripe key's
 * first read starts here without being awaited (`earlyKeyReader`): the Secrets Manager round trip
 * overlaps the rest of the cold start and the first invocation's claim of its records, and the
 * first meter event awaits it. A failed read is logged at once and read again on that first use,
 * where it fails the window (retried with backoff, logged). The key is then read again once the
 * cached value is older than STRIPE_KEY_MAX_AGE_SECONDS, and at once when Stripe answers 401/403:
 * a rotated key takes effect without a redeploy.
 */
export const stripePorts: ConsumerPortsBuilder = () => {
  const env = parseEnv(BillingEnv);
  const readKey = earlyKeyReader(
    ({ forceFetch }) => secretString(env.STRIPE_SECRET_NAME, { maxAge: STRIPE_KEY_MAX_AGE_SECONDS, forceFetch }),
    (error) => logger.error('the Stripe key could not be read at cold start; the first meter event reads it again', { error: error as Error }),
  );
  return { biller: makeUsageBiller({ readKey, eventName: env.STRIPE_METER_EVENT_NAME, ...(env.STRIPE_API_BASE ? { apiBase: env.STRIPE_API_BASE } : {}) }) };
};
