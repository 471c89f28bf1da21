import { ResourceNotFoundError } from '../domain/errors';
import type { Principal } from '../domain/model';
import type { RedemptionStore } from '../domain/ports';
import { subscriptionView, type RedemptionAnswer } from '../domain/redemption';

/**
 * get_subscription: a subscription of the caller's team, as its redemption answered it; another
 * team's subscription answers exactly like a missing one.
 */
export const getSubscription = async (
  deps: { redemptions: RedemptionStore },
  principal: Principal,
  subscriptionId: string,
): Promise<RedemptionAnswer> => {
  const subscription = await deps.redemptions.getSubscription(subscriptionId);
  if (!subscription || subscription.teamId !== principal.teamId) throw new ResourceNotFoundError('Subscription', subscriptionId);
  return subscriptionView(subscription);
};
