import * as v from 'valibot';
import type { AccountReader, Clock } from '../../domain/ports';
import { httpRoute } from '../../adapters/http/http-api';
import { boundedInteger, resourceId } from '../../adapters/http/validation';
import { previewAccessCodeCost } from '../../use-cases/preview-access-code-cost';

/** Body of `POST /v1/access-codes/preview`, as the spec's input schema. */
export const PreviewAccessCodeCostBody = v.object({
  plan_id: resourceId('plan_id'),
  quantity: boundedInteger('quantity', 1, 10_000),
});

/** preview_access_code_cost over HTTP. */
export const makeHandler = (deps: { accounts: AccountReader; clock: Clock }) =>
  httpRoute(deps, {
    abilities: ['project-access-code:create'],
    body: PreviewAccessCodeCostBody,
    run: ({ principal, body }) => previewAccessCodeCost(deps, principal, body),
  });
