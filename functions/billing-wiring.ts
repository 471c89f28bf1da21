import { DynamoBillingStore } from './adapters/dynamodb/billing-store';
import { makeDocumentClient } from './adapters/dynamodb/client';
import { secretString } from './adapters/secrets-manager';
import { makeSqsClient } from './adapters/sqs/client';
import { SqsVisibilityRedelivery } from './adapters/sqs/sqs-billing-queue';
import { earlyKeyReader } from './adapters/stripe/early-key-reader';
import { makeUsageBiller } from './adapters/stripe/factory';
import { STRIPE_KEY_MAX_AGE_SECONDS } from './contracts/billing-policy';
import { BillingEnv, parseEnv } from './contracts/env';
import { systemClock } from './domain/ports';
import { billingDeps, type BillingHandlerDeps } from './handlers/queue/billing';
import { logger } from './observability';

// The billing function's production wiring, apart from functions/wiring.ts: only its entry point
// imports this module, so stripe-node is imported statically here (evaluated once, with the rest
// of the bundle) without landing in any other function's bundle, and the billing bundle holds
// none of the other functions' stores and adapters that wiring.ts builds.

/**
 * Production wiring of the billing function: the billing records (no other store), the Stripe
 * biller, the queue's redelivery. The Stripe key's first read starts here without being awaited
 * (`earlyKeyReader`): the Secrets Manager round trip overlaps the rest of the cold start and the
 * first invocation's claim of its records, and the first meter event awaits it. A failed read is
 * logged at once and read again on that first use, where it fails the window (retried with
 * backoff, logged). The key is then read again once the cached value is older than
 * STRIPE_KEY_MAX_AGE_SECONDS, and at once when Stripe answers 401/403: a rotated key takes effect
 * without a redeploy.
 */
export const productionBillingDeps = (): BillingHandlerDeps => {
  const env = parseEnv(BillingEnv);
  const readKey = earlyKeyReader(
    ({ forceFetch }) => secretString(env.STRIPE_SECRET_NAME, { maxAge: STRIPE_KEY_MAX_AGE_SECONDS, forceFetch }),
    (error) => logger.error('the Stripe key could not be read at cold start; the first meter event reads it again', { error: error as Error }),
  );
  return billingDeps({
    stores: { billing: new DynamoBillingStore(makeDocumentClient({}), env.TABLE_NAME) },
    biller: makeUsageBiller({ readKey, eventName: env.STRIPE_METER_EVENT_NAME, ...(env.STRIPE_API_BASE ? { apiBase: env.STRIPE_API_BASE } : {}) }),
    clock: systemClock,
    redelivery: new SqsVisibilityRedelivery(makeSqsClient()),
  });
};
