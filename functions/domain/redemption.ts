import { EVENT_API_VERSION, type AccessCodeRedeemedData, type EventEnvelope } from '../contracts/events';
import { maskCode } from './access-codes';
import type { Tier } from './cost';
import type { FieldIssue } from './errors';
import { newId } from './ids';
import { formatMinorUnits } from './money';
import { codeStatusAt, type AccessCodeStatus } from './access-code-record';
import { billingPeriodOf } from './billing-period';

/** The longest subscriber id (the creator's own id for the subscriber), in characters. */
export const MAX_SUBSCRIBER_ID_LENGTH = 128;

/** Control, format, surrogate, private-use and unassigned characters, and line/paragraph separators. */
const UNPRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/u;

/** Holds at least one character that is not white space. */
export const NOT_BLANK = /\S/;

/** What a blank subscriber id is told. */
export const BLANK_SUBSCRIBER_ID = 'subscriber_id must not be empty or blank (white space only).';

/** Why a subscriber id is not acceptable, or undefined when it is: 1..128 printable characters, not white space alone. */
export const subscriberIdProblem = (value: string): string | undefined => {
  const length = [...value].length;
  if (length < 1 || length > MAX_SUBSCRIBER_ID_LENGTH) return `subscriber_id must be 1 to ${MAX_SUBSCRIBER_ID_LENGTH} characters.`;
  if (UNPRINTABLE.test(value)) return 'subscriber_id must contain printable characters only.';
  if (!NOT_BLANK.test(value)) return BLANK_SUBSCRIBER_ID;
  return undefined;
};

/** The redeem request as validated (its schema: `RedeemAccessCodeBodySchema`, functions/operations/redeem-access-code.ts). */
export interface RedeemAccessCodeInput {
  code: string;
  subscriber_id: string;
}

/** Field issues of a redeem request's subscriber id (the use case checks again, whoever called it). */
export const redeemInputIssues = (input: { subscriber_id: string }): FieldIssue[] => {
  const problem = subscriberIdProblem(input.subscriber_id);
  return problem ? [{ path: 'subscriber_id', message: problem }] : [];
};

/** The `billing` part of a redemption's answer: how this redemption counted in its period. */
export interface RedemptionBilling {
  /** Calendar month (UTC) of the redemption, `YYYY-MM`. */
  period: string;
  free_allotment: number;
  /** True when this redemption is billed: beyond the period's free allotment, at a price above 0. */
  overage: boolean;
  /** Price of one redemption beyond the allotment, in the currency's own precision ("0.03"). */
  unit_price: string;
  currency: string;
}

/** The `data` of the 200 answer of a redemption; stored with it and answered again on a retry. */
export interface RedemptionAnswer {
  subscription_id: string;
  plan_id: string;
  subscriber_id: string;
  /** Masked as in events: never the full code. */
  access_code: string;
  redeemed_at: string;
  billing: RedemptionBilling;
}

/** A subscription that a redemption created. */
export interface Subscription {
  id: string;
  planId: string;
  projectId: string;
  teamId: string;
  subscriberId: string;
  /** The redemption that created it (the meter event's identifier when billed). */
  redemptionId: string;
  /** The answer of the redemption that created it. */
  answer: RedemptionAnswer;
}

/** A committed redemption of one code. */
export interface Redemption {
  id: string;
  code: string;
  projectId: string;
  teamId: string;
  /** True when the redemption is billed (a billing record was committed with it). */
  billed: boolean;
  answer: RedemptionAnswer;
}

/**
 * How a redemption counts against its period's free allotment: `free` took one unit of it inside
 * its own commit; `beyond` committed once the allotment was used up. Exactly the first A
 * redemptions of a period (A = the allotment) are `free`: each takes its unit in the same commit
 * that redeems the code, and a unit is never taken twice nor given back.
 */
export type AllotmentPhase = 'free' | 'beyond';

/** True when a redemption in `phase` is billed: beyond the allotment and priced above 0. */
export const isBillable = (tier: Tier, phase: AllotmentPhase): boolean => phase === 'beyond' && tier.unitPriceMinor > 0;

/** How a redemption in `phase` of `period` counts, as its answer shows it; a price of 0 is never overage. */
export const redemptionBilling = (tier: Tier, period: string, phase: AllotmentPhase): RedemptionBilling => ({
  period,
  free_allotment: tier.freeAllotment,
  overage: isBillable(tier, phase),
  unit_price: formatMinorUnits(tier.unitPriceMinor, tier.currency),
  currency: tier.currency,
});

/**
 * Units of the free allotment that shard `shard` of `shards` holds: the allotment split as
 * evenly as whole units allow, the remainder on the first shards, so that they add up to it.
 */
export const allotmentShardSize = (freeAllotment: number, shard: number, shards: number): number =>
  Math.floor(freeAllotment / shards) + (shard < freeAllotment % shards ? 1 : 0);

/** The `access_code.redeemed` event of a redemption: the code is masked, never carried in full. */
export const redeemedEvent = (
  input: { projectId: string; subscriptionId: string; planId: string; subscriberId: string; code: string },
  now: Date,
  eventId: string = newId('event'),
): EventEnvelope<AccessCodeRedeemedData> => ({
  id: eventId,
  type: 'access_code.redeemed',
  created_at: now.toISOString(),
  api_version: EVENT_API_VERSION,
  project_id: input.projectId,
  data: {
    subscription_id: input.subscriptionId,
    plan_id: input.planId,
    subscriber_id: input.subscriberId,
    access_code: maskCode(input.code),
  },
});

/**
 * A stored answer in the answer's own field order: a store may give a map back in any order,
 * and a retry must read exactly like the first answer.
 */
export const storedAnswer = (stored: RedemptionAnswer): RedemptionAnswer => ({
  subscription_id: stored.subscription_id,
  plan_id: stored.plan_id,
  subscriber_id: stored.subscriber_id,
  access_code: stored.access_code,
  redeemed_at: stored.redeemed_at,
  billing: {
    period: stored.billing.period,
    free_allotment: stored.billing.free_allotment,
    overage: stored.billing.overage,
    unit_price: stored.billing.unit_price,
    currency: stored.billing.currency,
  },
});

/** What a subscription shows (`GET /v1/subscriptions/{id}`): the answer that created it. */
export const subscriptionView = (subscription: Subscription): RedemptionAnswer => subscription.answer;

/** A code as redemption reads it: where it belongs, its state, and who redeemed it, if anyone. */
export interface CodeForRedemption {
  /** Canonical form. */
  code: string;
  planId: string;
  projectId: string;
  teamId: string;
  jobId: string;
  slot: number;
  status: AccessCodeStatus;
  expiresAt: string | null;
  /** Set once redeemed: the redemption, its subscriber and its stored answer. */
  redemption: { redemptionId: string; subscriberId: string; answer: RedemptionAnswer } | null;
}

/** What a code's stored state decides for a redemption request, before or after a commit. */
export type RedemptionDecision =
  /** Active and unexpired at `now`: commit. */
  | { outcome: 'redeemable' }
  /** The same subscriber redeemed it before: the stored answer again. */
  | { outcome: 'replayed'; answer: RedemptionAnswer }
  | { outcome: 'already-redeemed' }
  | { outcome: 'expired' }
  /** Unknown, or of another team than the caller's: one answer for both, so nothing is revealed. */
  | { outcome: 'not-found' };

/**
 * The redemption rule, over the code as stored and the request: not found unless the code is
 * of the caller's team; redeemed → the stored answer for the same subscriber (a retry after a
 * lost answer), already redeemed for anyone else; expired at `now` (`codeStatusAt`: judged on
 * `expires_at` whether or not swept) → expired; otherwise redeemable.
 */
export const decideRedemption = (
  code: CodeForRedemption | undefined,
  request: { teamId: string; subscriberId: string },
  now: Date,
): RedemptionDecision => {
  if (!code || code.teamId !== request.teamId) return { outcome: 'not-found' };
  if (code.status === 'redeemed') {
    return code.redemption && code.redemption.subscriberId === request.subscriberId
      ? { outcome: 'replayed', answer: storedAnswer(code.redemption.answer) }
      : { outcome: 'already-redeemed' };
  }
  return codeStatusAt(code, now) === 'expired' ? { outcome: 'expired' } : { outcome: 'redeemable' };
};

/** The ids a redemption creates, drawn once per request so that every attempt reuses them. */
export interface RedemptionIds {
  subscriptionId: string;
  redemptionId: string;
  eventId: string;
}

/** Draws the ids of a new redemption. */
export const newRedemptionIds = (): RedemptionIds => ({
  subscriptionId: newId('subscription'),
  redemptionId: newId('redemption'),
  eventId: newId('event'),
});

/**
 * The state a usage record is committed in: a billing state, or `no_charge` for a redemption
 * beyond the allotment at a price of 0 (counted in usage, never billed).
 */
export type UsageRecordState = 'queued' | 'pending' | 'no_charge';

/** Everything one redemption commit writes, as the rules decide it for the phase it commits in. */
export interface RedemptionCommit {
  phase: AllotmentPhase;
  /** Whether the redemption is billed (its usage record is `queued` or `pending`). */
  billed: boolean;
  answer: RedemptionAnswer;
  /** The usage record committed with a redemption beyond the allotment; null for a free one. */
  usage: { state: UsageRecordState; stripeCustomerId: string | null } | null;
  event: EventEnvelope<AccessCodeRedeemedData>;
}

/**
 * The commit of a redemption in `phase` at `now`: its answer, usage record and event. Beyond the
 * allotment, a priced redemption is recorded for billing (`queued` for the project's Stripe
 * customer, `pending` while it has none) and one at a price of 0 is recorded `no_charge`, so that
 * usage still counts it; a free one writes nothing but its allotment unit.
 */
export const redemptionCommit = (
  request: {
    code: string;
    subscriberId: string;
    plan: { id: string };
    project: { id: string; tier: Tier; stripeCustomerId: string | null };
  },
  ids: RedemptionIds,
  phase: AllotmentPhase,
  now: Date,
): RedemptionCommit => {
  const billed = isBillable(request.project.tier, phase);
  const customer = request.project.stripeCustomerId;
  return {
    phase,
    billed,
    answer: {
      subscription_id: ids.subscriptionId,
      plan_id: request.plan.id,
      subscriber_id: request.subscriberId,
      access_code: maskCode(request.code),
      redeemed_at: now.toISOString(),
      billing: redemptionBilling(request.project.tier, billingPeriodOf(now), phase),
    },
    usage: phase === 'free' ? null : billed ? { state: customer ? 'queued' : 'pending', stripeCustomerId: customer } : { state: 'no_charge', stripeCustomerId: null },
    event: redeemedEvent(
      { projectId: request.project.id, subscriptionId: ids.subscriptionId, planId: request.plan.id, subscriberId: request.subscriberId, code: request.code },
      now,
      ids.eventId,
    ),
  };
};
