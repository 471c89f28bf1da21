import type { Clock } from '../domain/ports';
import type { ExpiryStore } from '../domain/expiry-sweep';
import { METRIC, countMetric, logger, metrics } from '../observability';
import { MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * Codes one run expires at most: 2,000 codes are 40 transactions of 50 codes and their events,
 * seconds of work, so a run stays far inside its timeout and interval whatever the backlog.
 */
export const EXPIRY_RUN_LIMIT = 2_000;

/** Dependencies of the expiry sweep. */
export interface ExpirySweepDeps {
  expiry: ExpiryStore;
  clock: Clock;
  /** Codes per run (EXPIRY_RUN_LIMIT unless a test says otherwise). */
  runLimit?: number;
}

/** What one run did. */
export interface ExpirySweepResult {
  expired: number;
  /** Whether due codes remained beyond this run's bound (the next run takes them). */
  backlogLeft: boolean;
  durationMs: number;
}

/**
 * Expires the codes whose `expires_at` has passed: runs every minute.
 * 1. Read up to the run's bound of due codes from the expiry index (only live expiring codes
 *    are there, so the read grows with what is due, never with what is stored).
 * 2. Move each to `expired` with its access_code.expired event in one transaction per 50
 *    codes, conditional on the code still being active and due: a code redeemed meanwhile or
 *    expired by an overlapping run is skipped, so every code gets one event at most. A crash
 *    anywhere leaves the codes not yet moved in the index, and the next run takes them.
 */
export const sweepExpiredCodes = async (deps: ExpirySweepDeps): Promise<ExpirySweepResult> => {
  const started = Date.now();
  const now = deps.clock.now();
  const due = await deps.expiry.dueCodes(now, deps.runLimit ?? EXPIRY_RUN_LIMIT);
  const expired = due.codes.length ? await deps.expiry.expireCodes(due.codes, now) : 0;
  const durationMs = Date.now() - started;
  countMetric(METRIC.codesExpired, expired);
  // 1 when the run left due codes behind: sustained 1s are a backlog that is not draining.
  metrics.addMetric(METRIC.expiryBacklog, MetricUnit.Count, due.more ? 1 : 0);
  metrics.addMetric(METRIC.sweepDuration, MetricUnit.Milliseconds, durationMs);
  if (expired || due.more) logger.info('expiry sweep', { expired, found: due.codes.length, backlogLeft: due.more, durationMs });
  return { expired, backlogLeft: due.more, durationMs };
};
