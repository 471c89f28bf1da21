import * as v from 'valibot';
import { getSubscription } from '../use-cases/get-subscription';
import { resourceId } from './fields';
import { defineOperation } from './operation';
import { RedemptionOutput } from './outputs';

/** get_subscription: `GET /v1/subscriptions/{subscription_id}`. */
export const getSubscriptionOperation = defineOperation({
  kind: 'tool',
  name: 'get_subscription',
  description: 'A subscription created by redeem_access_code, as the redemption answered it (plan, subscriber, masked code, redemption time and billing).',
  abilities: ['project-access-code:view-any'],
  input: v.strictObject({
    subscription_id: v.pipe(resourceId('subscription_id'), v.description('The subscription_id returned by redeem_access_code.')),
  }),
  output: RedemptionOutput,
  annotations: { readOnlyHint: true, idempotentHint: true, destructiveHint: false, openWorldHint: false },
  http: { method: 'GET', path: '/v1/subscriptions/{subscription_id}', successStatus: 200, pathParams: ['subscription_id'], queryParams: [], headers: {} },
  needs: { table: 'read' },
  run: (deps, principal, input) => getSubscription(deps, principal, input.subscription_id),
});
