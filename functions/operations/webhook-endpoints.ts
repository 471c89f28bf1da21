import * as v from 'valibot';
import type { Principal } from '../domain/model';
import {
  CreateWebhookEndpointInputSchema,
  ListWebhookDeliveriesInputSchema,
  ListWebhookEndpointsInputSchema,
  UpdateWebhookEndpointInputSchema,
} from './webhook-endpoint-inputs';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  retryWebhookDelivery,
  rotateWebhookSecret,
  sendTestWebhook,
  updateWebhookEndpoint,
  type WebhookEndpointsDeps,
} from '../use-cases/webhook-endpoints';
import { resourceId } from './fields';
import { defineOperation, type DepsFor } from './operation';
import {
  DeletedWebhookEndpointOutput,
  ListWebhookDeliveriesOutput,
  ListWebhookEndpointsOutput,
  RotatedSecretOutput,
  TestWebhookOutput,
  WebhookDeliveryOutput,
  WebhookEndpointOutput,
  WebhookEndpointWithSecretOutput,
} from './outputs';

// The webhook endpoints API: every operation needs view-any, since an endpoint receives every
// code of the project's events (spec: "tokens subscribing to access_code.* events must carry
// project-access-code:view-any"). The use cases check the team.

const ABILITIES = ['project-access-code:view-any'] as const;
const NEEDS = { table: 'readWrite', webhooks: true } as const;
/** Retrying a delivery by hand attempts it at once and queues its next attempt when it fails. */
const RETRY_NEEDS = { ...NEEDS, webhookQueue: true } as const;
const READ_NEEDS = { table: 'read', webhooks: true } as const;
/** The listings also seal and open their cursors. */
const LIST_NEEDS = { ...READ_NEEDS, cursorKey: true } as const;

const endpointId = v.pipe(resourceId('endpoint_id'), v.description('The webhook endpoint (whe_…).'));
const deliveryId = v.pipe(resourceId('delivery_id'), v.description('The delivery, as the deliveries listing shows it.'));

/** The use cases' dependencies from an operation's. */
const useCaseDeps = (deps: DepsFor<typeof NEEDS>): WebhookEndpointsDeps => ({
  ...deps.webhooks,
  accounts: deps.accounts,
  clock: deps.clock,
});

/** create_webhook_endpoint: `POST /v1/webhook-endpoints`. */
export const createWebhookEndpointOperation = defineOperation({
  kind: 'tool',
  name: 'create_webhook_endpoint',
  description:
    "Subscribes an HTTPS URL to a project's access code events (access_code.generated, .redeemed, .expired, or access_code.* for all). Returns the endpoint with its signing secret (whsec_…), shown only here and on rotation.",
  abilities: ABILITIES,
  input: CreateWebhookEndpointInputSchema,
  output: WebhookEndpointWithSecretOutput,
  // Open world: the service will POST events to the URL given (and resolves its host now).
  annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false, openWorldHint: true },
  http: { method: 'POST', path: '/v1/webhook-endpoints', successStatus: 201, pathParams: [], queryParams: [], headers: {} },
  needs: NEEDS,
  run: (deps, principal: Principal, input) => createWebhookEndpoint(useCaseDeps(deps), principal, input),
});

/** list_webhook_endpoints: `GET /v1/webhook-endpoints?project_id=…`. */
export const listWebhookEndpointsOperation = defineOperation({
  kind: 'tool',
  name: 'list_webhook_endpoints',
  description: "A page of a project's webhook endpoints, oldest first, with whether each is enabled and, if disabled, why and since when.",
  abilities: ABILITIES,
  input: ListWebhookEndpointsInputSchema,
  output: ListWebhookEndpointsOutput,
  annotations: { readOnlyHint: true, idempotentHint: true, destructiveHint: false, openWorldHint: false },
  http: { method: 'GET', path: '/v1/webhook-endpoints', successStatus: 200, pathParams: [], queryParams: ['project_id', 'cursor', 'limit'], headers: {} },
  needs: LIST_NEEDS,
  run: (deps, principal, input) => listWebhookEndpoints({ ...useCaseDeps(deps), cursors: deps.cursors }, principal, input),
});

/** get_webhook_endpoint: `GET /v1/webhook-endpoints/{endpoint_id}`. */
export const getWebhookEndpointOperation = defineOperation({
  kind: 'tool',
  name: 'get_webhook_endpoint',
  description: 'One webhook endpoint (never its secret).',
  abilities: ABILITIES,
  input: v.strictObject({ endpoint_id: endpointId }),
  output: WebhookEndpointOutput,
  annotations: { readOnlyHint: true, idempotentHint: true, destructiveHint: false, openWorldHint: false },
  http: { method: 'GET', path: '/v1/webhook-endpoints/{endpoint_id}', successStatus: 200, pathParams: ['endpoint_id'], queryParams: [], headers: {} },
  needs: READ_NEEDS,
  run: (deps, principal, input) => getWebhookEndpoint(useCaseDeps(deps), principal, input.endpoint_id),
});

/** update_webhook_endpoint: `PATCH /v1/webhook-endpoints/{endpoint_id}`. */
export const updateWebhookEndpointOperation = defineOperation({
  kind: 'tool',
  name: 'update_webhook_endpoint',
  description: "Changes a webhook endpoint's url, events, description or enabled state; enabled: true re-enables a disabled endpoint.",
  abilities: ABILITIES,
  input: v.strictObject({ endpoint_id: endpointId, ...UpdateWebhookEndpointInputSchema.entries }),
  output: WebhookEndpointOutput,
  // Destructive: the URL and events given replace the old ones. Open world: a new URL is resolved now and sent events later.
  annotations: { readOnlyHint: false, idempotentHint: true, destructiveHint: true, openWorldHint: true },
  http: { method: 'PATCH', path: '/v1/webhook-endpoints/{endpoint_id}', successStatus: 200, pathParams: ['endpoint_id'], queryParams: [], headers: {} },
  needs: NEEDS,
  run: (deps, principal, { endpoint_id, ...changes }) => updateWebhookEndpoint(useCaseDeps(deps), principal, endpoint_id, changes),
});

/** delete_webhook_endpoint: `DELETE /v1/webhook-endpoints/{endpoint_id}`. */
export const deleteWebhookEndpointOperation = defineOperation({
  kind: 'tool',
  name: 'delete_webhook_endpoint',
  description: 'Deletes a webhook endpoint: it receives nothing more.',
  abilities: ABILITIES,
  input: v.strictObject({ endpoint_id: endpointId }),
  output: DeletedWebhookEndpointOutput,
  // Irreversible: the endpoint, its secret and its delivery history are gone.
  annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: true, openWorldHint: false },
  http: { method: 'DELETE', path: '/v1/webhook-endpoints/{endpoint_id}', successStatus: 200, pathParams: ['endpoint_id'], queryParams: [], headers: {} },
  needs: { table: 'readWrite', webhooks: 'delete' },
  run: async (deps, principal, input) => {
    await deleteWebhookEndpoint(useCaseDeps(deps), principal, input.endpoint_id);
    return { id: input.endpoint_id, deleted: true as const };
  },
});

/** rotate_webhook_secret: `POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret`. */
export const rotateWebhookSecretOperation = defineOperation({
  kind: 'tool',
  name: 'rotate_webhook_secret',
  description:
    'Makes a new signing secret current and returns it (shown only here). For 24 hours every delivery is signed with the old secret too, so receivers can switch without missing one.',
  abilities: ABILITIES,
  input: v.strictObject({ endpoint_id: endpointId }),
  output: RotatedSecretOutput,
  // Destructive: the old secret stops signing after 24 hours and cannot be had back.
  annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: true, openWorldHint: false },
  http: { method: 'POST', path: '/v1/webhook-endpoints/{endpoint_id}/rotate-secret', successStatus: 200, pathParams: ['endpoint_id'], queryParams: [], headers: {} },
  needs: NEEDS,
  run: (deps, principal, input) => rotateWebhookSecret(useCaseDeps(deps), principal, input.endpoint_id),
});

/** list_webhook_deliveries: `GET /v1/webhook-endpoints/{endpoint_id}/deliveries`. */
export const listWebhookDeliveriesOperation = defineOperation({
  kind: 'tool',
  name: 'list_webhook_deliveries',
  description:
    "A page of an endpoint's deliveries, newest first, optionally of one status (pending, succeeded, failed), each with its event, status and attempts (time, response status, duration, error, first bytes of the response).",
  abilities: ABILITIES,
  input: v.strictObject({ endpoint_id: endpointId, ...ListWebhookDeliveriesInputSchema.entries }),
  output: ListWebhookDeliveriesOutput,
  annotations: { readOnlyHint: true, idempotentHint: true, destructiveHint: false, openWorldHint: false },
  http: {
    method: 'GET',
    path: '/v1/webhook-endpoints/{endpoint_id}/deliveries',
    successStatus: 200,
    pathParams: ['endpoint_id'],
    queryParams: ['status', 'cursor', 'limit'],
    headers: {},
  },
  needs: LIST_NEEDS,
  run: (deps, principal, { endpoint_id, ...page }) => listWebhookDeliveries({ ...useCaseDeps(deps), cursors: deps.cursors }, principal, endpoint_id, page),
});

/** retry_webhook_delivery: `POST /v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry`. */
export const retryWebhookDeliveryOperation = defineOperation({
  kind: 'tool',
  name: 'retry_webhook_delivery',
  description: 'Sends a failed delivery (or a pending one past its due time) again now, with the same webhook-id, and returns it with the new attempt.',
  abilities: ABILITIES,
  input: v.strictObject({ endpoint_id: endpointId, delivery_id: deliveryId }),
  output: WebhookDeliveryOutput,
  // Open world: it POSTs the event to the endpoint's URL now.
  annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false, openWorldHint: true },
  http: {
    method: 'POST',
    path: '/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry',
    successStatus: 200,
    pathParams: ['endpoint_id', 'delivery_id'],
    queryParams: [],
    headers: {},
  },
  needs: RETRY_NEEDS,
  run: (deps, principal, input) => retryWebhookDelivery(useCaseDeps(deps), principal, input.endpoint_id, input.delivery_id),
});

/** send_test_webhook: `POST /v1/webhook-endpoints/{endpoint_id}/test`. */
export const sendTestWebhookOperation = defineOperation({
  kind: 'tool',
  name: 'send_test_webhook',
  description: 'Sends a signed webhook.test event to the endpoint now and reports the attempt; nothing is stored or retried.',
  abilities: ABILITIES,
  input: v.strictObject({ endpoint_id: endpointId }),
  output: TestWebhookOutput,
  // Open world: it POSTs a signed test event to the endpoint's URL now.
  annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false, openWorldHint: true },
  http: { method: 'POST', path: '/v1/webhook-endpoints/{endpoint_id}/test', successStatus: 200, pathParams: ['endpoint_id'], queryParams: [], headers: {} },
  needs: READ_NEEDS,
  run: (deps, principal, input) => sendTestWebhook(useCaseDeps(deps), principal, input.endpoint_id),
});

/** The webhook endpoint operations, in catalog order. */
export const WEBHOOK_OPERATIONS = [
  createWebhookEndpointOperation,
  listWebhookEndpointsOperation,
  getWebhookEndpointOperation,
  updateWebhookEndpointOperation,
  deleteWebhookEndpointOperation,
  rotateWebhookSecretOperation,
  listWebhookDeliveriesOperation,
  retryWebhookDeliveryOperation,
  sendTestWebhookOperation,
] as const;
