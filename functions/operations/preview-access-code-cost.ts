import * as v from 'valibot';
import { previewAccessCodeCost } from '../use-cases/preview-access-code-cost';
import { boundedInteger, resourceId } from './fields';
import { defineOperation } from './operation';
import { PreviewOutput } from './outputs';

/** preview_access_code_cost: `POST /v1/access-codes/preview`. */
export const previewAccessCodeCostOperation = defineOperation({
  kind: 'tool',
  name: 'preview_access_code_cost',
  description:
    'Preview the cost of generating access codes before queuing the batch. Returns free_remaining, chargeable_quantity, and the resulting cost in the creator-tier currency so the agent can surface the charge to a human. Always call this first when quantity might exceed the creator tier free allotment — the generation tool refuses to run with chargeable codes unless the caller acknowledges overage.',
  abilities: ['project-access-code:create'],
  input: v.strictObject({
    plan_id: v.pipe(resourceId('plan_id'), v.description('UUID of the plan the batch would be attached to.')),
    quantity: v.pipe(
      boundedInteger('quantity', 1, 10_000),
      v.description('How many access codes the agent is considering generating (1-10000).'),
    ),
  }),
  output: PreviewOutput,
  annotations: { readOnlyHint: true, idempotentHint: true, destructiveHint: false, openWorldHint: false },
  http: { method: 'POST', path: '/v1/access-codes/preview', successStatus: 200, pathParams: [], queryParams: [], headers: {} },
  needs: { table: 'read' },
  run: (deps, principal, input) => previewAccessCodeCost(deps, principal, input),
});
