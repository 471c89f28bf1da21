import { canonicalCode } from '../domain/access-codes';
import { CodeAlreadyRedeemedError, CodeExpiredError, ResourceNotFoundError, ValidationFailedError } from '../domain/errors';
import type { Principal } from '../domain/model';
import type { AccountReader, Clock, RedemptionStore } from '../domain/ports';
import { redeemInputIssues, type RedeemAccessCodeInput, type RedemptionAnswer } from '../domain/redemption';
import { loadPlanForPrincipal } from './plan-access';

/** Dependencies of redeem_access_code. */
export interface RedeemAccessCodeDeps {
  accounts: AccountReader;
  redemptions: RedemptionStore;
  clock: Clock;
}

/** The answer of redeem_access_code: its `data`, and whether this call created the redemption. */
export interface RedeemAccessCodeResult {
  data: RedemptionAnswer;
  /** False when the same subscriber had redeemed the code before (the stored answer). */
  created: boolean;
  /** True when this call committed a billed redemption (a billing record with it): the overage metric. */
  billed: boolean;
  /** Commit attempts this call needed (1 without contention; 1 for a replay). */
  attempts: number;
}

/** Every "no such code" answers the same, so that a token cannot probe other teams' codes. */
const notFound = () => new ResourceNotFoundError('Access code');

/**
 * redeem_access_code: a subscriber redeems a code of one of the caller's plans.
 * 1. Check the subscriber id (422) and read the code as people type it; a string that cannot be
 *    a code is simply not found.
 * 2. Find the code; a code of another team, or of a plan the caller cannot see, is not found.
 * 3. Load its plan and project (tier and Stripe customer) for the caller's team.
 * 4. Commit the redemption: code, period counter (which decides the billing), subscription,
 *    stored answer, billing record and access_code.redeemed, all in one transaction. Nothing is
 *    written before this step; after it everything is, and a client that missed the answer
 *    gets the same one by retrying (same subscriber), while anyone else gets 409.
 */
export const redeemAccessCode = async (
  deps: RedeemAccessCodeDeps,
  principal: Principal,
  input: RedeemAccessCodeInput,
): Promise<RedeemAccessCodeResult> => {
  const issues = redeemInputIssues(input);
  if (issues.length > 0) throw new ValidationFailedError(issues);
  const code = canonicalCode(input.code);
  if (!code) throw notFound();

  const found = await deps.redemptions.findCode(code);
  if (!found || found.teamId !== principal.teamId) throw notFound();

  const { plan, project } = await loadPlanForPrincipal(deps, principal, found.planId).catch((error: unknown) => {
    throw error instanceof ResourceNotFoundError ? notFound() : error;
  });

  const result = await deps.redemptions.redeem({ code, subscriberId: input.subscriber_id, plan, project, clock: deps.clock });
  switch (result.outcome) {
    case 'redeemed':
      return { data: result.redemption.answer, created: true, billed: result.redemption.billed, attempts: result.attempts };
    case 'replayed':
      return { data: result.answer, created: false, billed: false, attempts: 1 };
    case 'already-redeemed':
      throw new CodeAlreadyRedeemedError();
    case 'expired':
      throw new CodeExpiredError();
    case 'not-found':
      throw notFound();
  }
};
