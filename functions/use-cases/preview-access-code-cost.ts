import { billingPeriodOf } from '../domain/billing-period';
import { previewCost, wouldBillOverage, type CostPreview } from '../domain/cost';
import type { Principal } from '../domain/model';
import type { AccountReader, Clock } from '../domain/ports';
import { loadPlanForPrincipal } from './plan-access';

/** Input of preview_access_code_cost, already validated. */
export interface PreviewAccessCodeCostInput {
  plan_id: string;
  quantity: number;
}

/** Output of preview_access_code_cost (the `data` of the answer). */
export interface PreviewAccessCodeCostOutput {
  plan_id: string;
  quantity: number;
  currency: string;
  preview: CostPreview;
  will_bill_overage: boolean;
}

/**
 * Worst-case cost of generating `quantity` codes for a plan.
 * 1. Load the plan and its project within the caller's team (else RESOURCE_NOT_FOUND).
 * 2. Read the project's redemptions in the current billing period.
 * 3. Price the quantity against the project's tier.
 */
export const previewAccessCodeCost = async (
  deps: { accounts: AccountReader; clock: Clock },
  principal: Principal,
  input: PreviewAccessCodeCostInput,
): Promise<PreviewAccessCodeCostOutput> => {
  const { project } = await loadPlanForPrincipal(deps, principal, input.plan_id);
  const freeUsed = await deps.accounts.freeAllotmentUsed(project.id, billingPeriodOf(deps.clock.now()));
  const preview = previewCost(project.tier, freeUsed, input.quantity);
  return {
    plan_id: input.plan_id,
    quantity: input.quantity,
    currency: project.tier.currency,
    preview,
    will_bill_overage: wouldBillOverage(project.tier, preview),
  };
};
