import { RedeemAccessCodeBodySchema } from '../domain/redemption';
import { METRIC, countMetric } from '../observability';
import { redeemAccessCode } from '../use-cases/redeem-access-code';
import { defineOperation } from './operation';
import { RedemptionOutput } from './outputs';

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
  needs: { table: 'readWrite' },
  run: async (deps, principal, input) => {
    const result = await redeemAccessCode({ ...deps, accounts: deps.redemptionAccounts }, principal, input);
    if (result.created) countMetric(METRIC.redemptions);
    if (result.created && result.data.billing.overage) countMetric(METRIC.overageRedemptions);
    return result.data;
  },
});
