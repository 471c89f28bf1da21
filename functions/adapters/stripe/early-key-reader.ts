import type { StripeKeyReader } from './rotating-key-biller';

/**
 * A key reader whose first read starts at once, before anything asks for the key: in the billing
 * function, the Secrets Manager round trip then overlaps the rest of its init and the first
 * invocation's table work instead of holding up the init. The first non-forced read takes that
 * read's result. If it failed, `onEarlyFailure` hears why at once (the wiring logs it) and the key
 * is read again on that first use, so a missing or unreadable secret still fails the first meter
 * event, as an unreadable key does on any later one (retried, never dropped). Forced reads (a
 * refused key) always read afresh.
 */
export const earlyKeyReader = (readKey: StripeKeyReader, onEarlyFailure: (error: unknown) => void): StripeKeyReader => {
  let early: Promise<string> | undefined = readKey({ forceFetch: false });
  // Handled here, so that a failure before the first use is reported, not an unhandled rejection.
  early.catch(onEarlyFailure);
  return ({ forceFetch }) => {
    const started = early;
    early = undefined;
    if (!started || forceFetch) return readKey({ forceFetch });
    return started.catch(() => readKey({ forceFetch: false }));
  };
};
