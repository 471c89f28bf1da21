import * as v from 'valibot';
import { ValidationFailedError } from '../../functions/domain/errors';
import { decodeJsonObject, MAX_BODY_BYTES, parseWith } from '../../functions/handlers/http/validation';
import { BulkGenerateInput } from '../../functions/operations/bulk-generate-access-codes';
import { boundedInteger } from '../../functions/operations/fields';
import { previewAccessCodeCostOperation } from '../../functions/operations/preview-access-code-cost';

const PreviewAccessCodeCostBody = previewAccessCodeCostOperation.input;

const detailsOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationFailedError) return error.details;
    throw error;
  }
  throw new Error('expected a ValidationFailedError');
};

describe('decodeJsonObject', () => {
  test('returns the object of a JSON body', () => {
    expect(decodeJsonObject('{"a":1}', false)).toEqual({ a: 1 });
  });

  test('decodes base64 bodies as API Gateway sends them', () => {
    expect(decodeJsonObject(Buffer.from('{"a":2}').toString('base64'), true)).toEqual({ a: 2 });
  });

  test.each([
    ['a missing body', undefined, 'A JSON object body is required.'],
    ['an empty body', '  ', 'A JSON object body is required.'],
    ['malformed JSON', '{"a":', 'The request body is not valid JSON.'],
    ['a JSON array', '[1]', 'The request body must be a JSON object.'],
    ['JSON null', 'null', 'The request body must be a JSON object.'],
    ['a JSON string', '"x"', 'The request body must be a JSON object.'],
    ['an oversized body', `{"a":"${'x'.repeat(MAX_BODY_BYTES)}"}`, `The request body must be at most ${MAX_BODY_BYTES} bytes.`],
  ])('refuses %s on the body itself', (_name, body, message) => {
    expect(detailsOf(() => decodeJsonObject(body, false))).toEqual([{ path: '', message }]);
  });
});

describe('boundedInteger', () => {
  const schema = v.object({ quantity: boundedInteger('quantity', 1, 10) });
  test.each([1, 10])('accepts %p', (quantity) => {
    expect(parseWith(schema, { quantity })).toEqual({ quantity });
  });
  test.each([0, 11, 1.5, '5', null, true, [5], 1e400, -1])('refuses %p', (quantity) => {
    expect(detailsOf(() => parseWith(schema, { quantity }))).toEqual([
      { path: 'quantity', message: 'quantity must be an integer from 1 to 10.' },
    ]);
  });
  test('says a missing field is required', () => {
    expect(detailsOf(() => parseWith(schema, {}))).toEqual([{ path: 'quantity', message: 'quantity is required.' }]);
  });
});

describe('parseWith', () => {
  // Found by the MCP fuzz (test/fuzz/mcp-tools.test.ts): redeem's strict schema refused an
  // argument named `constructor` with a detail whose path was Object.prototype.constructor.
  test.each(['constructor', 'toString', 'hasOwnProperty'])('names an unknown field called %s by its own name', (field) => {
    const strict = v.strictObject({ code: v.string() });
    expect(detailsOf(() => parseWith(strict, { code: 'x', [field]: [] }))).toEqual([{ path: field, message: expect.any(String) }]);
    expect(detailsOf(() => parseWith(strict, { code: 'x', [field]: [] }, { code: 'x-code' }))).toEqual([{ path: field, message: expect.any(String) }]);
  });
});

describe('PreviewAccessCodeCostBody', () => {
  test('names every bad field at once', () => {
    expect(detailsOf(() => parseWith(PreviewAccessCodeCostBody, { plan_id: 7, quantity: 10_001 }))).toEqual([
      { path: 'plan_id', message: 'plan_id must be a non-empty string of at most 100 characters.' },
      { path: 'quantity', message: 'quantity must be an integer from 1 to 10000.' },
    ]);
  });

  test('refuses fields the contract does not define, naming each (a typo is never dropped silently)', () => {
    expect(detailsOf(() => parseWith(PreviewAccessCodeCostBody, { plan_id: 'pln_1', quantity: 3, extra: true, quantiy: 4 }))).toEqual([
      { path: 'extra', message: 'extra is not a field of this operation.' },
      { path: 'quantiy', message: 'quantiy is not a field of this operation (did you mean quantity?).' },
    ]);
  });
});

describe('BulkGenerateInput', () => {
  const valid = { plan_id: 'pln_1', quantity: 5, export_type: 'file', expiry_preset: 'no_expiry' };
  const pathsOf = (input: unknown) => detailsOf(() => parseWith(BulkGenerateInput, input)).map((detail) => detail.path);

  test('reports every bad field at once, the rules that span fields included', () => {
    expect(pathsOf({ quantity: 0, export_type: 'messages', expiry_preset: 'custom' }).sort()).toEqual(
      ['consent', 'custom_expiry_amount', 'custom_expiry_type', 'plan_id', 'quantity'].sort(),
    );
  });

  test('names the per-unit maximum of a custom expiry alongside a bad quantity', () => {
    const details = detailsOf(() =>
      parseWith(BulkGenerateInput, { ...valid, quantity: 1001, expiry_preset: 'custom', custom_expiry_amount: 11, custom_expiry_type: 'years' }),
    );
    expect(details).toEqual([
      { path: 'quantity', message: 'quantity must be an integer from 1 to 1000.' },
      {
        path: 'custom_expiry_amount',
        message: 'custom_expiry_amount is required with expiry_preset=custom and must be an integer from 1 to 10 years.',
      },
    ]);
  });

  test('asks for consent with messages even when the expiry is also wrong', () => {
    expect(pathsOf({ ...valid, export_type: 'messages', consent: false, expiry_preset: 'custom', custom_expiry_type: 'days' }).sort()).toEqual([
      'consent',
      'custom_expiry_amount',
    ]);
  });

  test('accepts a custom expiry at its per-unit maximum, and messages with consent', () => {
    expect(parseWith(BulkGenerateInput, { ...valid, expiry_preset: 'custom', custom_expiry_amount: 520, custom_expiry_type: 'weeks' })).toMatchObject({
      custom_expiry_amount: 520,
      custom_expiry_type: 'weeks',
    });
    expect(parseWith(BulkGenerateInput, { ...valid, export_type: 'messages', consent: true })).toMatchObject({ consent: true });
  });
});
