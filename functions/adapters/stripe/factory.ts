import * as v from 'valibot';
import { ConfigurationError } from '../../contracts/env';
import type { Clock, UsageBiller } from '../../domain/ports';
import { LedgerUsageBiller } from './ledger-biller';
import { RotatingKeyStripeBiller, type StripeKeyReader } from './rotating-key-biller';
import { DEFAULT_METER_EVENT_NAME, StripeMeterBiller, apiBaseOptions, type StripeMeterBillerOptions } from './stripe-meter-biller';

/**
 * The billing environment (parse with `parseEnv` at cold start). In AWS the key itself comes
 * from Secrets Manager, not from here; `STRIPE_SECRET_KEY` is the local stack's way in.
 */
export const StripeEnv = v.object({
  STRIPE_SECRET_KEY: v.optional(v.pipe(v.string(), v.regex(/^(sk|rk)_[A-Za-z0-9_]+$/, 'must be a Stripe secret or restricted key (sk_… / rk_…)'))),
  STRIPE_API_BASE: v.optional(v.pipe(v.string(), v.url('must be a URL such as http://127.0.0.1:12111'))),
  STRIPE_METER_EVENT_NAME: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'must be a meter event name')), DEFAULT_METER_EVENT_NAME),
});

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
