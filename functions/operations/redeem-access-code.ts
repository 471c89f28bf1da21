import * as v from 'valibot';
import { BLANK_SUBSCRIBER_ID, MAX_SUBSCRIBER_ID_LENGTH, NOT_BLANK, subscriberIdProblem } from '../domain/redemption';
import { METRIC } from '../contracts/metrics';
import { redeemAccessCode } from '../use-cases/redeem-access-code';
import { Counted, defineOperation } from './operation';
import { RedemptionOutput } from './outputs';

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

/** redeem_access_code: `POST /v1/access-codes/redeem`. */
export const redeemAccessCodeOperation = defineOperation({
  kind: 'tool',
  name: 'redeem_access_code',
  description:
    "Redeem an access code for a subscriber: creates the subscription on the code's plan. The code may be typed in any case, with or without separators. The same subscriber redeeming the same code again gets the same answer (safe to retry after a timeout); another subscriber gets CODE_ALREADY_REDEEMED (409), an expired code CODE_EXPIRED (410). A redemption beyond the tier's free allotment for the month is billed as metered overage (billing.overage).",
  abilities: ['project-access-code:redeem'],
  input: RedeemAccessCodeBodySchema,
  // Not read-only: it creates a subscription. Idempotent for the same subscriber (same answer).
  output: RedemptionOutput,
  annotations: { readOnlyHint: false, idempotentHint: true, destructiveHint: false, openWorldHint: false },
  http: { method: 'POST', path: '/v1/access-codes/redeem', successStatus: 200, pathParams: [], queryParams: [], headers: {} },
  // Subscribers' apps call it; each call is one DynamoDB transaction (and maybe a Stripe event).
  throttle: { rateLimit: 100, burstLimit: 200 },
  needs: { table: 'readWrite' },
  run: async (deps, principal, input) => {
    const result = await redeemAccessCode({ ...deps, accounts: deps.redemptionAccounts }, principal, input);
    // A replay by the same subscriber is not counted again.
    if (!result.created) return result.data;
    return new Counted(result.data, { [METRIC.redemptions]: 1, [METRIC.overageRedemptions]: result.data.billing.overage ? 1 : 0 });
  },
});
