import * as v from 'valibot';
import { EVENT_API_VERSION, type AccessCodeRedeemedData, type EventEnvelope } from '../contracts/events';
import { maskCode } from './access-codes';
import type { Tier } from './cost';
import type { FieldIssue } from './errors';
import { newId } from './ids';
import { formatMinorUnits } from './money';

/** The longest subscriber id (the creator's own id for the subscriber), in characters. */
export const MAX_SUBSCRIBER_ID_LENGTH = 128;

/** Control, format, surrogate, private-use and unassigned characters, and line/paragraph separators. */
const UNPRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/u;

/** Holds at least one character that is not white space. */
const NOT_BLANK = /\S/;

const BLANK_SUBSCRIBER_ID = 'subscriber_id must not be empty or blank (white space only).';

/** Why a subscriber id is not acceptable, or undefined when it is: 1..128 printable characters, not white space alone. */
export const subscriberIdProblem = (value: string): string | undefined => {
  const length = [...value].length;
  if (length < 1 || length > MAX_SUBSCRIBER_ID_LENGTH) return `subscriber_id must be 1 to ${MAX_SUBSCRIBER_ID_LENGTH} characters.`;
  if (UNPRINTABLE.test(value)) return 'subscriber_id must contain printable characters only.';
  if (!NOT_BLANK.test(value)) return BLANK_SUBSCRIBER_ID;
  return undefined;
};

/**
 * The body of `POST /v1/access-codes/redeem`, strict (an unknown field is refused). The code is
 * only checked to be a short, non-blank string here: whether it can be a code at all is the use
 * case's business (an unreadable code is simply not found, like any unknown one). The subscriber
 * id's length counts characters (code points), as JSON Schema's maxLength does: that bound is
 * published as metadata, and enforced, with the printable rule, by the check.
 */
export const RedeemAccessCodeBodySchema = v.strictObject({
  code: v.pipe(
    v.string('code must be a string.'),
    v.regex(NOT_BLANK, 'code is required.'),
    v.minLength(1, 'code is required.'),
    v.maxLength(64, 'code must be at most 64 characters.'),
    v.description('The access code as the subscriber typed it (e.g. 7KQ2-9XMD-4TRV): any case, with or without separators, look-alike characters read as the symbols they resemble.'),
  ),
  subscriber_id: v.pipe(
    v.string('subscriber_id must be a string.'),
    v.regex(NOT_BLANK, BLANK_SUBSCRIBER_ID),
    // What the pattern refuses is its one issue; the check adds length and printability.
    v.check((value) => !NOT_BLANK.test(value) || subscriberIdProblem(value) === undefined, (issue) => subscriberIdProblem(String(issue.input)) ?? 'subscriber_id is not valid.'),
    v.metadata({ minLength: 1, maxLength: MAX_SUBSCRIBER_ID_LENGTH }),
    v.description(
      `Your own id for the subscriber (1 to ${MAX_SUBSCRIBER_ID_LENGTH} printable characters, not white space alone). The same subscriber redeeming the same code again gets the same answer.`,
    ),
  ),
});

/** The redeem request as validated. */
export type RedeemAccessCodeInput = v.InferOutput<typeof RedeemAccessCodeBodySchema>;

/** Field issues of a redeem request's subscriber id (the use case checks again, whoever called it). */
export const redeemInputIssues = (input: { subscriber_id: string }): FieldIssue[] => {
  const problem = subscriberIdProblem(input.subscriber_id);
  return problem ? [{ path: 'subscriber_id', message: problem }] : [];
};

/** The `billing` part of a redemption's answer: how this redemption counted in its period. */
export interface RedemptionBilling {
  /** Calendar month (UTC) of the redemption, `YYYY-MM`. */
  period: string;
  /** 1 for the project's first redemption of the period, and so on. */
  redemption_number: number;
  free_allotment: number;
  /** True when this redemption is beyond the period's free allotment. */
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
 * The billing rule: redemption number `n` of a period is billed iff it is beyond the tier's free
 * allotment and the tier charges something for it.
 */
export const isOverage = (tier: Tier, redemptionNumber: number): boolean => redemptionNumber > tier.freeAllotment;

/** True when redemption number `n` of a period is billed (overage at a price above zero). */
export const isBillable = (tier: Tier, redemptionNumber: number): boolean => isOverage(tier, redemptionNumber) && tier.unitPriceMinor > 0;

/** How redemption number `n` of `period` counts, as its answer shows it. */
export const redemptionBilling = (tier: Tier, period: string, redemptionNumber: number): RedemptionBilling => ({
  period,
  redemption_number: redemptionNumber,
  free_allotment: tier.freeAllotment,
  overage: isOverage(tier, redemptionNumber),
  unit_price: formatMinorUnits(tier.unitPriceMinor, tier.currency),
  currency: tier.currency,
});

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
    redemption_number: stored.billing.redemption_number,
    free_allotment: stored.billing.free_allotment,
    overage: stored.billing.overage,
    unit_price: stored.billing.unit_price,
    currency: stored.billing.currency,
  },
});

/** What a subscription shows (`GET /v1/subscriptions/{id}`): the answer that created it. */
export const subscriptionView = (subscription: Subscription): RedemptionAnswer => subscription.answer;

/**
 * Where a billed redemption stands: `queued` for the billing consumer, `pending` while the
 * project has no Stripe customer, `billed` once Stripe has it (final), `failed` when Stripe
 * refused it for good.
 */
export type BillingState = 'queued' | 'pending' | 'billed' | 'failed';

/** The billing record of one billed redemption, committed with it. */
export interface BillingRecord {
  redemptionId: string;
  projectId: string;
  period: string;
  redemptionNumber: number;
  /** The project's Stripe customer at commit time; null when it had none. */
  stripeCustomerId: string | null;
  redeemedAt: string;
  state: BillingState;
  /** Why Stripe refused it, when failed. */
  reason: string | null;
  updatedAt: string;
}
