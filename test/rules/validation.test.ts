import * as v from 'valibot';
import { ValidationFailedError } from '../../functions/domain/errors';
import { boundedInteger, decodeJsonObject, MAX_BODY_BYTES, parseWith } from '../../functions/adapters/http/validation';
import { PreviewAccessCodeCostBody } from '../../functions/handlers/http/preview-access-code-cost';

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

describe('PreviewAccessCodeCostBody', () => {
  test('names every bad field at once', () => {
    expect(detailsOf(() => parseWith(PreviewAccessCodeCostBody, { plan_id: 7, quantity: 10_001 }))).toEqual([
      { path: 'plan_id', message: 'plan_id must be a non-empty string of at most 100 characters.' },
      { path: 'quantity', message: 'quantity must be an integer from 1 to 10000.' },
    ]);
  });

  test('ignores fields the contract does not define', () => {
    expect(parseWith(PreviewAccessCodeCostBody, { plan_id: 'pln_1', quantity: 3, extra: true })).toEqual({ plan_id: 'pln_1', quantity: 3 });
  });
});
