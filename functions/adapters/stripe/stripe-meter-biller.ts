import Stripe from 'stripe';
import { BillingRejectedError, BillingUnavailableError, type MeteredUsage } from '../../domain/billing';
import type { UsageBiller } from '../../domain/ports';
import { ConfigurationError, DEFAULT_METER_EVENT_NAME } from '../../contracts/env';

/** How the real client is tuned; every field has a Lambda-friendly default. */
export interface StripeMeterBillerOptions {
  /** The Billing Meter's `event_name`. Default `access_code_redemption`. */
  eventName?: string;
  /** Another API origin, e.g. `http://127.0.0.1:12111` for a local stand-in. Default Stripe's own. */
  apiBase?: string;
  /** Per-request timeout. Default 10 s: a billing function must not hang on a stalled socket. */
  timeoutMs?: number;
  /**
   * Retries inside the client. Default 0: a window Stripe did not take is retried with backoff
   * by the billing queue and then the billing sweep, from the window's own record; in-client
   * retries would sleep inside the function and multiply with those. The meter event's
   * `identifier` makes a re-send harmless either way. (stripe-node still retries a closed
   * keep-alive socket once, whatever this says; the identifier covers that too.)
   */
  maxNetworkRetries?: number;
}

/** Lambda-friendly defaults, in place of the library's (80 s timeout, 1 retry). */
export const STRIPE_CLIENT_DEFAULTS = { timeoutMs: 10_000, maxNetworkRetries: 0 } as const;

/**
 * Stripe's answer to a second meter event with an identifier it has seen (it keeps them for at
 * least 24 hours). Older API versions send it without a code, so the message is matched too.
 */
const DUPLICATE_CODE = 'duplicate_meter_event';
const DUPLICATE_MESSAGE = /an event already exists with identifier/i;

/** The `UsageBiller` port over Stripe Billing Meter events (v1 `billing.meterEvents.create`), through stripe-node. */
export class StripeMeterBiller implements UsageBiller {
  private readonly stripe: Stripe;
  private readonly eventName: string;

  constructor(secretKey: string, options: StripeMeterBillerOptions = {}) {
    this.stripe = new Stripe(secretKey, {
      ...apiBaseOptions(options.apiBase),
      timeout: options.timeoutMs ?? STRIPE_CLIENT_DEFAULTS.timeoutMs,
      maxNetworkRetries: options.maxNetworkRetries ?? STRIPE_CLIENT_DEFAULTS.maxNetworkRetries,
      // Latency telemetry would ride along on the next request; nothing of ours needs it.
      telemetry: false,
    });
    this.eventName = options.eventName ?? DEFAULT_METER_EVENT_NAME;
  }

  /** Sends one meter event; a duplicate identifier counts as sent. */
  async reportUsage(usage: MeteredUsage): Promise<void> {
    try {
      await this.stripe.billing.meterEvents.create({
        event_name: this.eventName,
        payload: { stripe_customer_id: usage.stripeCustomerId, value: String(usage.value) },
        identifier: usage.identifier,
        timestamp: Math.floor(usage.timestamp.getTime() / 1000),
      });
    } catch (error) {
      if (isDuplicate(error)) return;
      throw toBillingError(error);
    }
  }
}

const isDuplicate = (error: unknown): boolean =>
  error instanceof Stripe.errors.StripeInvalidRequestError &&
  error.statusCode === 400 &&
  (error.code === DUPLICATE_CODE || DUPLICATE_MESSAGE.test(error.message));

/**
 * Maps whatever stripe-node threw to the port's contract. Worth another try: no status
 * (connection refused, reset, timeout), 5xx, 429 and Stripe's rate-limit errors, 409 (a lock
 * held by a concurrent request), and 401/403: a mistyped, revoked or restricted key is fixed by
 * an operator (the key is read again within minutes, see RotatingKeyStripeBiller), after which
 * the same usage goes through. Every other 4xx refuses the payload itself: no retry can cure it.
 * Messages carry Stripe's own message only, never the key.
 */
export const toBillingError = (error: unknown): Error => {
  if (error instanceof Stripe.errors.StripeError) {
    const status = error.statusCode;
    const retryable =
      status === undefined ||
      status >= 500 ||
      status === 401 ||
      status === 403 ||
      status === 409 ||
      status === 429 ||
      error instanceof Stripe.errors.StripeRateLimitError ||
      error instanceof Stripe.errors.StripeConnectionError ||
      error instanceof Stripe.errors.StripeAuthenticationError ||
      error instanceof Stripe.errors.StripePermissionError;
    if (retryable) return new BillingUnavailableError(`Stripe meter event failed, to be retried (${status ?? 'no answer'}): ${error.message}`, status, { cause: error });
    return new BillingRejectedError(`Stripe refused the meter event (${status}): ${error.message}`, status, error.code, { cause: error });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new BillingUnavailableError(`Stripe meter event failed, to be retried: ${detail}`, undefined, { cause: error });
};

/**
 * `http://127.0.0.1:12111` → the client's host, port and protocol. stripe-node has no base-path
 * option, so a base with a path is refused at cold start rather than silently dropped.
 */
export const apiBaseOptions = (apiBase: string | undefined): { host?: string; port?: string; protocol?: 'http' | 'https' } => {
  if (apiBase === undefined || apiBase === '') return {};
  let url: URL;
  try {
    url = new URL(apiBase);
  } catch {
    throw new ConfigurationError('Invalid configuration: STRIPE_API_BASE must be a URL such as http://127.0.0.1:12111');
  }
  const protocol = url.protocol.slice(0, -1);
  if ((protocol !== 'http' && protocol !== 'https') || (url.pathname !== '/' && url.pathname !== '') || url.search || url.username) {
    throw new ConfigurationError('Invalid configuration: STRIPE_API_BASE must be an http(s) origin without a path, such as http://127.0.0.1:12111');
  }
  return { host: url.hostname, port: url.port || (protocol === 'https' ? '443' : '80'), protocol };
};
