import * as v from 'valibot';
import { CUSTOM_EXPIRY_TYPES, EXPIRY_PRESETS, MAX_CUSTOM_EXPIRY, type ExpiryRequest } from '../domain/expiry';
import { bulkGenerateAccessCodes } from '../use-cases/bulk-generate-access-codes';
import { boundedInteger, oneOf, optionalBoolean, resourceId } from './fields';
import { defineOperation } from './operation';
import { BulkGenerateOutput } from './outputs';

/** The largest custom amount of any unit; the per-unit maximum is a rule across fields below. */
const LARGEST_CUSTOM_EXPIRY = Math.max(...Object.values(MAX_CUSTOM_EXPIRY));

const customAmountMessage = (unit: unknown) => {
  const known = (CUSTOM_EXPIRY_TYPES as readonly unknown[]).includes(unit) ? (unit as keyof typeof MAX_CUSTOM_EXPIRY) : undefined;
  const max = known ? MAX_CUSTOM_EXPIRY[known] : LARGEST_CUSTOM_EXPIRY;
  return `custom_expiry_amount is required with expiry_preset=custom and must be an integer from 1 to ${max}${known ? ` ${known}` : ''}.`;
};

/**
 * Every field of bulk_generate_access_codes, as the spec's input schema, plus `acknowledge_overage`
 * (see DESIGN.md) and the Idempotency-Key header. The rules that span fields are `partialCheck`s
 * forwarded to the field they are about: each runs once its own fields are valid, so a request
 * hears about every bad field at once; JSON Schema generation skips them (errorMode 'ignore'),
 * keeping the flat documented object.
 */
export const BulkGenerateInput = v.pipe(
  v.strictObject({
    plan_id: v.pipe(resourceId('plan_id'), v.description('UUID of the plan to attach the generated codes to.')),
    quantity: v.pipe(boundedInteger('quantity', 1, 1000), v.description('How many access codes to generate (1-1000).')),
    export_type: v.pipe(
      oneOf('export_type', ['file', 'messages'] as const),
      v.description('How the job delivers the codes to the creator — file (CSV via bot) or messages (one per code via bot). Required.'),
    ),
    expiry_preset: v.pipe(
      oneOf('expiry_preset', EXPIRY_PRESETS),
      v.description('Required. One of no_expiry, 1_day, 1_week, 1_month, 1_year, custom.'),
    ),
    custom_expiry_amount: v.optional(
      v.pipe(
        boundedInteger('custom_expiry_amount', 1, LARGEST_CUSTOM_EXPIRY),
        v.description('When expiry_preset=custom, the amount of custom_expiry_type units. Required when preset=custom.'),
      ),
    ),
    custom_expiry_type: v.optional(
      v.pipe(
        v.picklist(
          CUSTOM_EXPIRY_TYPES,
          `custom_expiry_type is required with expiry_preset=custom and must be one of ${CUSTOM_EXPIRY_TYPES.join(', ')}.`,
        ),
        v.description('When expiry_preset=custom, one of days/weeks/months/years. Required when preset=custom.'),
      ),
    ),
    consent: v.pipe(
      optionalBoolean('consent'),
      v.description(
        "Required and must be true when export_type=messages — acknowledges that one Telegram message per code will be sent to the creator's chat.",
      ),
    ),
    acknowledge_overage: v.pipe(
      optionalBoolean('acknowledge_overage'),
      v.description('Must be true when the preview has chargeable codes: the caller has seen the cost (call preview_access_code_cost first).'),
    ),
    idempotency_key: v.optional(
      v.pipe(
        v.string('Idempotency-Key must be 1 to 255 visible ASCII characters.'),
        v.regex(/^[\x21-\x7e]{1,255}$/, 'Idempotency-Key must be 1 to 255 visible ASCII characters.'),
        v.description('The same key with the same request answers the first job instead of queueing another (24 hours).'),
      ),
    ),
  }),
  v.forward(
    v.partialCheck(
      [['expiry_preset'], ['custom_expiry_type']],
      (input) => input.expiry_preset !== 'custom' || input.custom_expiry_type !== undefined,
      `custom_expiry_type is required with expiry_preset=custom and must be one of ${CUSTOM_EXPIRY_TYPES.join(', ')}.`,
    ),
    ['custom_expiry_type'],
  ),
  v.forward(
    v.partialCheck(
      // Not over custom_expiry_type: a missing or bad unit must not silence this rule.
      [['expiry_preset'], ['custom_expiry_amount']],
      (input) => input.expiry_preset !== 'custom' || input.custom_expiry_amount !== undefined,
      (issue) => customAmountMessage((issue.input as { custom_expiry_type?: unknown }).custom_expiry_type),
    ),
    ['custom_expiry_amount'],
  ),
  v.forward(
    v.partialCheck(
      [['custom_expiry_amount'], ['custom_expiry_type']],
      (input) =>
        input.custom_expiry_amount === undefined ||
        input.custom_expiry_type === undefined ||
        input.custom_expiry_amount <= MAX_CUSTOM_EXPIRY[input.custom_expiry_type],
      (issue) => customAmountMessage((issue.input as { custom_expiry_type?: unknown }).custom_expiry_type),
    ),
    ['custom_expiry_amount'],
  ),
  v.forward(
    v.partialCheck(
      [['export_type'], ['consent']],
      (input) => input.export_type !== 'messages' || input.consent === true,
      'consent must be true with export_type=messages: one Telegram message per code will be sent to the creator’s chat.',
    ),
    ['consent'],
  ),
);

const expiryOf = (input: v.InferOutput<typeof BulkGenerateInput>): ExpiryRequest =>
  input.expiry_preset === 'custom'
    ? // The schema's rules guarantee both with preset=custom.
      { preset: 'custom', amount: input.custom_expiry_amount!, unit: input.custom_expiry_type! }
    : { preset: input.expiry_preset };

/** bulk_generate_access_codes: `POST /v1/access-codes/bulk-generate` → 202. */
export const bulkGenerateAccessCodesOperation = defineOperation({
  kind: 'tool',
  name: 'bulk_generate_access_codes',
  // The spec's purpose text, whole: agents act on its billing and delivery guidance.
  description: [
    'Bulk-generate access codes for a plan. The underlying job can take minutes for large batches, so the tool returns a job_id immediately; clients poll get_job_status until status=completed. The access_code.generated event emits once per batch when the worker finishes.',
    'Billing model: generation is free. The Stripe metered overage triggers on redemption when the creator\'s tier free allotment is exhausted. The response embeds a preview so callers can still surface the worst-case cost ("if all N get redeemed"). For a cost-only query, call preview_access_code_cost.',
    'Delivery is Telegram-only. export_type must be file (CSV via bot) or messages (one Telegram message per code via bot) — both require the creator account to have a linked Telegram chat. Agents that need programmatic access must also call list_access_codes after the batch completes.',
  ].join('\n\n'),
  abilities: ['project-access-code:create'],
  input: BulkGenerateInput,
  // A replay with the same Idempotency-Key answers the first job, but without one each call queues a job.
  output: BulkGenerateOutput,
  // Open world: the codes are sent to the creator's Telegram chat (a file, or one message each).
  annotations: { readOnlyHint: false, idempotentHint: false, destructiveHint: false, openWorldHint: true },
  http: {
    method: 'POST',
    path: '/v1/access-codes/bulk-generate',
    successStatus: 202,
    pathParams: [],
    queryParams: [],
    headers: { idempotency_key: 'idempotency-key' },
  },
  // Each call may queue a 1000-code job: the expensive door, kept narrow.
  throttle: { rateLimit: 5, burstLimit: 10 },
  needs: { table: 'readWrite', queue: true },
  run: (deps, principal, input) =>
    bulkGenerateAccessCodes(
      deps,
      principal,
      {
        plan_id: input.plan_id,
        quantity: input.quantity,
        export_type: input.export_type,
        expiry: expiryOf(input),
        consent: input.consent === true,
        acknowledge_overage: input.acknowledge_overage === true,
      },
      input.idempotency_key,
    ),
});
