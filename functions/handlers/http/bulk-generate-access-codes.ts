import * as v from 'valibot';
import { ValidationFailedError, type FieldIssue } from '../../domain/errors';
import { CUSTOM_EXPIRY_TYPES, EXPIRY_PRESETS, MAX_CUSTOM_EXPIRY, type ExpiryRequest } from '../../domain/expiry';
import { httpRoute } from '../../adapters/http/http-api';
import { boundedInteger, parseWith, resourceId } from '../../adapters/http/validation';
import { bulkGenerateAccessCodes, type BulkGenerateDeps, type BulkGenerateInput } from '../../use-cases/bulk-generate-access-codes';

const oneOf = <T extends readonly string[]>(field: string, options: T) =>
  v.picklist(options, `${field} must be one of ${options.join(', ')}.`);

const optionalBoolean = (field: string) => v.optional(v.boolean(`${field} must be true or false.`));

/** Body of `POST /v1/access-codes/bulk-generate`, field by field as the spec's input schema. */
export const BulkGenerateBody = v.object({
  plan_id: resourceId('plan_id'),
  quantity: boundedInteger('quantity', 1, 1000),
  export_type: oneOf('export_type', ['file', 'messages'] as const),
  expiry_preset: oneOf('expiry_preset', EXPIRY_PRESETS),
  custom_expiry_amount: v.optional(v.unknown()),
  custom_expiry_type: v.optional(v.unknown()),
  consent: optionalBoolean('consent'),
  acknowledge_overage: optionalBoolean('acknowledge_overage'),
});

/** Turns a parsed body into the use case's input, checking the rules that span fields. */
export const toBulkGenerateInput = (body: v.InferOutput<typeof BulkGenerateBody>): BulkGenerateInput => {
  const issues: FieldIssue[] = [];
  let expiry: ExpiryRequest = { preset: 'no_expiry' };
  if (body.expiry_preset === 'custom') {
    const unit = body.custom_expiry_type;
    const amount = body.custom_expiry_amount;
    const unitOk = typeof unit === 'string' && (CUSTOM_EXPIRY_TYPES as readonly string[]).includes(unit);
    if (!unitOk) {
      issues.push({ path: 'custom_expiry_type', message: `custom_expiry_type is required with expiry_preset=custom and must be one of ${CUSTOM_EXPIRY_TYPES.join(', ')}.` });
    }
    const max = unitOk ? MAX_CUSTOM_EXPIRY[unit as keyof typeof MAX_CUSTOM_EXPIRY] : 3650;
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 1 || amount > max) {
      issues.push({ path: 'custom_expiry_amount', message: `custom_expiry_amount is required with expiry_preset=custom and must be an integer from 1 to ${max}${unitOk ? ` ${unit}` : ''}.` });
    }
    if (!issues.length) expiry = { preset: 'custom', amount: amount as number, unit: unit as (typeof CUSTOM_EXPIRY_TYPES)[number] };
  } else {
    expiry = { preset: body.expiry_preset };
  }
  if (body.export_type === 'messages' && body.consent !== true) {
    issues.push({ path: 'consent', message: 'consent must be true with export_type=messages: one Telegram message per code will be sent to the creator’s chat.' });
  }
  if (issues.length) throw new ValidationFailedError(issues);
  return {
    plan_id: body.plan_id,
    quantity: body.quantity,
    export_type: body.export_type,
    expiry,
    consent: body.consent === true,
    acknowledge_overage: body.acknowledge_overage === true,
  };
};

const IdempotencyKeyHeader = v.optional(
  v.pipe(
    v.string(),
    v.regex(/^[\x21-\x7e]{1,255}$/, 'Idempotency-Key must be 1 to 255 visible ASCII characters.'),
  ),
);

/** bulk_generate_access_codes over HTTP: 202 with the queued job. */
export const makeHandler = (deps: BulkGenerateDeps) =>
  httpRoute(deps, {
    abilities: ['project-access-code:create'],
    body: BulkGenerateBody,
    successStatus: 202,
    run: ({ principal, body, event }) => {
      const input = toBulkGenerateInput(body);
      const key = parseWith(v.object({ 'idempotency-key': IdempotencyKeyHeader }), {
        'idempotency-key': event.headers?.['idempotency-key'],
      })['idempotency-key'];
      return bulkGenerateAccessCodes(deps, principal, input, key);
    },
  });
