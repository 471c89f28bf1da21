import { ConfigurationError } from '../../contracts/env';
import type { Clock, UsageBiller } from '../../domain/ports';
import { LedgerUsageBiller } from './ledger-biller';
import { RotatingKeyStripeBiller, type StripeKeyReader } from './rotating-key-biller';
import { StripeMeterBiller, apiBaseOptions, type StripeMeterBillerOptions } from './stripe-meter-biller';

/** What `makeUsageBiller` needs; `ledgerDir` is the local stack's fallback when there is no key. */
export interface BillingConfig extends StripeMeterBillerOptions {
  secretKey?: string;
  /** Reads a key that may be rotated (Secrets Manager); takes precedence over `secretKey`. */
  readKey?: StripeKeyReader;
  /** Data dir for the ledger biller; used only when there is no key. */
  ledgerDir?: string;
  /** Clock for the ledger's `recorded_at`. */
  clock?: Clock;
}

/**
 * The biller the configuration asks for: Stripe with a key reader (rotation without a
 * redeploy) or a fixed key, the ledger file when there is neither but a local data dir, and a
 * cold-start failure otherwise, so a deployed function without a key never "bills" into its /tmp.
 */
export const makeUsageBiller = (config: BillingConfig): UsageBiller => {
  const { secretKey, readKey, ledgerDir, clock, ...options } = config;
  apiBaseOptions(options.apiBase); // refuse a bad base at cold start, with or without a key
  if (readKey) return new RotatingKeyStripeBiller(readKey, options);
  if (secretKey) return new StripeMeterBiller(secretKey, options);
  if (ledgerDir) return new LedgerUsageBiller(ledgerDir, { eventName: options.eventName, clock });
  throw new ConfigurationError('Invalid configuration: STRIPE_SECRET_KEY is required (no ledger dir outside the local stack)');
};
