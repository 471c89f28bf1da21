import { canonicalCode } from '../domain/access-codes';
import { CodeAlreadyRedeemedError, CodeExpiredError, ResourceNotFoundError, ValidationFailedError } from '../domain/errors';
import type { Plan, Principal, Project } from '../domain/model';
import type { AccountReader, Clock, RedemptionStore } from '../domain/ports';
import {
  decideRedemption,
  newRedemptionIds,
  redeemInputIssues,
  type RedeemAccessCodeInput,
  type RedemptionAnswer,
  type RedemptionDecision,
} from '../domain/redemption';
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

/** How many times a commit may find the code changed under it before the answer is read from the code. */
const MAX_DECISIONS = 3;

/**
 * redeem_access_code: a subscriber redeems a code of one of the caller's plans.
 * 1. Check the subscriber id (422) and read the code as people type it; a string that cannot be
 *    a code is simply not found.
 * 2. Read the code and decide on it (`decideRedemption`): another team's code is not found; a
 *    redeemed one answers the stored answer to the same subscriber and 409 to anyone else; an
 *    expired one 410. A code of a job still generating is not found either.
 * 3. Load its plan and project (tier and Stripe customer) for the caller's team.
 * 4. Commit: the code, one unit of the free allotment or the usage record, the subscription and
 *    access_code.redeemed, in one transaction conditioned on the code as step 2 judged it.
 *    Nothing is written before this step; after it everything is. If the code changed in
 *    between (another subscriber won, or it expired), step 2 runs again on what is stored.
 */
export const redeemAccessCode = async (
  deps: RedeemAccessCodeDeps,
  principal: Principal,
  input: RedeemAccessCodeInput,
): Promise<RedeemAccessCodeResult> => {
  const issues = redeemInputIssues(input);
  if (issues.length > 0) throw new ValidationFailedError(issues);
  const canonical = canonicalCode(input.code);
  if (!canonical) throw notFound();

  const request = { teamId: principal.teamId, subscriberId: input.subscriber_id };
  const ids = newRedemptionIds();
  let loaded: { plan: Plan; project: Project } | undefined;
  for (let round = 1; round <= MAX_DECISIONS; round++) {
    const code = await deps.redemptions.findCode(canonical);
    const decision = decideRedemption(code, request, deps.clock.now());
    if (decision.outcome !== 'redeemable') return settled(decision);
    if (!(await deps.redemptions.isBatchGenerated(code!.jobId))) throw notFound();

    loaded ??= await loadPlanForPrincipal(deps, principal, code!.planId).catch((error: unknown) => {
      throw error instanceof ResourceNotFoundError ? notFound() : error;
    });
    const result = await deps.redemptions.redeem({ code: code!, subscriberId: input.subscriber_id, ...loaded, ids, clock: deps.clock });
    if (result.outcome === 'redeemed') {
      return { data: result.redemption.answer, created: true, billed: result.redemption.billed, attempts: result.attempts };
    }
  }
  throw new Error(`redemption found its code changed ${MAX_DECISIONS} times in a row`);
};

/** The answer, or the refusal, that a decision other than "redeemable" stands for. */
const settled = (decision: Exclude<RedemptionDecision, { outcome: 'redeemable' }>): RedeemAccessCodeResult => {
  switch (decision.outcome) {
    case 'replayed':
      return { data: decision.answer, created: false, billed: false, attempts: 1 };
    case 'already-redeemed':
      throw new CodeAlreadyRedeemedError();
    case 'expired':
      throw new CodeExpiredError();
    case 'not-found':
      throw notFound();
  }
};
