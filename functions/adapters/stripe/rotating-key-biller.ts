import { BillingUnavailableError, type MeteredUsage } from '../../domain/billing';
import { type UsageBiller } from '../../domain/ports';
import { StripeMeterBiller, type StripeMeterBillerOptions } from './stripe-meter-biller';

/**
 * Reads the Stripe key: from a cache no older than its TTL, or afresh with `forceFetch`
 * (Powertools `getSecret` with `maxAge` in production, a plain function in tests).
 */
export type StripeKeyReader = (options: { forceFetch: boolean }) => Promise<string>;

export { STRIPE_KEY_MAX_AGE_SECONDS } from '../../contracts/billing-policy';

/** Stripe answers 401 to a key it does not know (revoked, mistyped) and 403 to a restricted key without the permission. */
const isKeyRefused = (error: unknown): boolean => error instanceof BillingUnavailableError && (error.status === 401 || error.status === 403);

/**
 * The `UsageBiller` port over a Stripe key that may be rotated while the function runs, like
 * the bot token's sender: the key is read through the reader's cache before each call (so a
 * rotation takes effect within the cache's TTL), and afresh at once when Stripe refuses it, the
 * call then tried once more with the new key. A key still refused after that is the retryable
 * refusal it was: the window is retried with backoff until an operator fixes the secret.
 */
export class RotatingKeyStripeBiller implements UsageBiller {
  private current: { key: string; biller: StripeMeterBiller } | undefined;

  constructor(
    private readonly readKey: StripeKeyReader,
    private readonly options: StripeMeterBillerOptions = {},
  ) {}

  async reportUsage(usage: MeteredUsage): Promise<void> {
    const used = await this.billerFor(false);
    try {
      await used.biller.reportUsage(usage);
    } catch (error) {
      if (!isKeyRefused(error)) throw error;
      const fresh = await this.billerFor(true);
      if (fresh.key === used.key) throw error;
      await fresh.biller.reportUsage(usage);
    }
  }

  private async billerFor(forceFetch: boolean): Promise<{ key: string; biller: StripeMeterBiller }> {
    let key: string;
    try {
      key = (await this.readKey({ forceFetch })).trim();
    } catch (error) {
      // The secret unreadable for a moment is like Stripe unreachable: retried, never dropped.
      throw new BillingUnavailableError(`The Stripe key could not be read: ${(error as Error).message}`, undefined, { cause: error });
    }
    if (!key) throw new BillingUnavailableError('The Stripe key secret is empty.');
    if (this.current?.key !== key) this.current = { key, biller: new StripeMeterBiller(key, this.options) };
    return this.current;
  }
}
