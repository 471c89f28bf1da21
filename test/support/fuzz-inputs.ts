import fc from 'fast-check';
import { toJsonSchema } from '@valibot/to-json-schema';
import type { ToolOperation } from '../../functions/operations';

// Arbitraries for the fuzz suites (test/fuzz). Secrets and access codes never appear in a
// generated value: a value may be a placeholder such as `@@token.all@@` or `@@code.active@@`,
// which the suite resolves just before sending, so a shrunk counterexample prints the name of
// what was sent, never the thing itself.

/** A placeholder for a value only known at run time (an id, a token, a code). */
export const known = (name: string): string => `@@${name}@@`;

const PLACEHOLDER = /^@@([\w.-]+)@@$/;

/** `value` with every placeholder (as a whole string, or inside a longer one) replaced from `table`. */
export const resolvePlaceholders = (value: unknown, table: Readonly<Record<string, string>>): unknown => {
  if (typeof value === 'string') {
    const whole = PLACEHOLDER.exec(value);
    if (whole) return table[whole[1]!] ?? value;
    return value.replace(/@@([\w.-]+)@@/g, (all, name: string) => table[name] ?? all);
  }
  if (Array.isArray(value)) return value.map((item) => resolvePlaceholders(item, table));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolvePlaceholders(item, table)]));
  }
  return value;
};

/** The boundary numbers, plus the neighbours of common limits. */
export const BOUNDARY_NUMBERS: readonly number[] = [0, -0, -1, 1, 2 ** 31, 2 ** 31 - 1, -(2 ** 31), 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, 1e308, -1e308, 0.5, 1.0000001, 100, 101, 500, 501, 1000, 1001, 10_000, 10_001, 5e-324];

/** Numbers as strings, which JSON cannot carry as numbers or which a lenient parser might accept. */
export const NUMBER_STRINGS: readonly string[] = ['NaN', 'Infinity', '-Infinity', '-0', '1e3', '0x10', ' 5 ', '10', '1_000', '', '٣'];

/** Strings that have broken parsers before: long, non-ASCII, control characters, injections. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\r\n',
    '../../etc/passwd',
    "' OR 1=1 --",
    '{"$ne":null}',
    '__proto__',
    'constructor',
    '%00',
    '%E0%A4%A',
    'ｍｊｂ＿',
    '🎟️🎟️🎟️',
    'pln_\u202e',
    'a'.repeat(101),
    'x'.repeat(2049),
    '\ud800',
    'null',
    'true',
    '[]',
  ),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 100, maxLength: 3000 }),
);

/** Any JSON-ish value of the wrong kind: boundary numbers, numeric strings, nasty strings, null, arrays, objects. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...BOUNDARY_NUMBERS),
  fc.constantFrom(...NUMBER_STRINGS),
  nastyString,
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null)), { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 2 }),
  fc.double(),
);

interface JsonSchemaField {
  type?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  items?: { enum?: unknown[] };
}

/** Values of the field's own kind: its enum members, its integer bounds and their neighbours, known ids. */
const plausibleValue = (field: JsonSchemaField | undefined, knownValues: readonly string[]): fc.Arbitrary<unknown> => {
  if (field?.enum) return fc.constantFrom(...field.enum);
  if (field?.type === 'integer' || field?.type === 'number') {
    const min = field.minimum ?? 1;
    const max = field.maximum ?? 1000;
    return fc.oneof(fc.integer({ min, max: Math.min(max, min + 20) }), fc.constantFrom(min - 1, min, max, max + 1));
  }
  if (field?.type === 'boolean') return fc.boolean();
  if (field?.type === 'array') {
    const members = field.items?.enum ?? ['x'];
    return fc.array(fc.constantFrom(...members), { maxLength: 5 });
  }
  if (knownValues.length === 0) return fc.string({ maxLength: 12 });
  // The first hint is the one that fits best (the seeded plan for plan_id): favour it, so that runs get past the lookups.
  return fc.oneof({ arbitrary: fc.constant(knownValues[0]), weight: 2 }, { arbitrary: fc.constantFrom(...knownValues), weight: 1 });
};

/** Marks a field left out of the input. */
const ABSENT = Symbol('absent');

/**
 * An input object shaped like the operation's own: each field mostly present, mostly of its own
 * kind (enum members, bounds, the known values `hints` gives for its name, such as the seeded
 * plan for `plan_id`), sometimes of a wrong kind or missing, plus now and then fields it does
 * not have. Biased this way, a fair share of runs pass validation and reach the use case.
 */
export const operationInput = (
  operation: ToolOperation<any, any, any>,
  hints: (field: string) => readonly string[],
): fc.Arbitrary<Record<string, unknown>> => {
  const schema = toJsonSchema(operation.input, { errorMode: 'ignore' }) as { properties?: Record<string, JsonSchemaField> };
  const fields = Object.keys(operation.input.entries as Record<string, unknown>);
  const values = (wrongWeight: number) =>
    fc.tuple(
      ...fields.map((field) =>
        fc.oneof(
          { arbitrary: plausibleValue(schema.properties?.[field], hints(field)), weight: 8 },
          { arbitrary: wrongValue, weight: wrongWeight },
          { arbitrary: fc.constant<unknown>(ABSENT), weight: 1 },
        ),
      ),
    );
  // With many fields, a wrong one somewhere is near certain: a third of the inputs have none, so
  // that operations with many fields (bulk-generate has nine) still reach their use case.
  const record = fc.oneof({ arbitrary: values(0), weight: 1 }, { arbitrary: values(2), weight: 2 });
  const extra = fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'team_id', 'status', 'id', 'code'), fc.string({ maxLength: 10 })), wrongValue, { maxKeys: 2 });
  return fc.tuple(record, fc.option(extra, { freq: 4 })).map(([values, extraPart]) => {
    // fromEntries, so that a generated `__proto__` stays an own field.
    const own = Object.fromEntries(fields.map((field, i) => [field, values[i]] as const).filter(([, value]) => value !== ABSENT));
    return { ...Object.fromEntries(Object.entries(extraPart ?? {})), ...own };
  });
};

/** How the request says who it is. The `token.*` names are the harness's tokens. */
export type AuthChoice =
  | { kind: 'token'; token: string }
  | { kind: 'none' }
  | { kind: 'raw'; value: string }
  | { kind: 'duplicated'; tokens: [string, string] };

/** Mostly the all-abilities token (so the fuzz reaches validation), sometimes a narrower one, none or garbage. */
export const authChoice = (tokenNames: readonly string[]): fc.Arbitrary<AuthChoice> =>
  fc.oneof(
    { arbitrary: fc.constant<AuthChoice>({ kind: 'token', token: 'all' }), weight: 20 },
    { arbitrary: fc.constantFrom(...tokenNames).map((token): AuthChoice => ({ kind: 'token', token })), weight: 3 },
    { arbitrary: fc.constant<AuthChoice>({ kind: 'none' }), weight: 1 },
    {
      arbitrary: fc
        .oneof(
          fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer mp_nope', `Bearer ${known('token.all')} extra`, `Token ${known('token.all')}`, `Bearer  ${known('token.all')}`),
          headerValue.map((value) => `Bearer ${value}`),
          headerValue,
        )
        .map((value): AuthChoice => ({ kind: 'raw', value })),
      weight: 2,
    },
    { arbitrary: fc.tuple(fc.constantFrom(...tokenNames), fc.constantFrom(...tokenNames)).map((tokens): AuthChoice => ({ kind: 'duplicated', tokens })), weight: 1 },
  );

/** A header value fetch will send: visible ASCII and spaces (HTTP forbids control characters). */
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 300 }),
  fc.constantFrom('', 'x'.repeat(256), 'a b', '"quoted"', 'null'),
);

/** What goes in the Content-Type header: JSON in its spellings, other media types, none, two at once. */
export const contentTypeChoice: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 12 },
  {
    arbitrary: fc.constantFrom(
      undefined,
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/merge-patch+json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json, text/plain',
      'application/jsonx',
      '',
    ),
    weight: 3,
  },
);

/** A body: the input's fields as JSON (mostly), or any JSON, or bytes that are not JSON, or nothing. */
export type BodyChoice = { kind: 'fields' } | { kind: 'json'; value: unknown } | { kind: 'raw'; text: string } | { kind: 'none' };

/** Mostly the shaped fields; sometimes anything at all. */
export const bodyChoice: fc.Arbitrary<BodyChoice> = fc.oneof(
  { arbitrary: fc.constant<BodyChoice>({ kind: 'fields' }), weight: 20 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value): BodyChoice => ({ kind: 'json', value })), weight: 2 },
  {
    arbitrary: fc
      .oneof(fc.constantFrom('{', '{"a":', 'nul', '[1,2', '{"quantity": 1e999}', '\u0000', '{}{}', '"str"', '  '), fc.string({ unit: 'binary', maxLength: 60 }))
      .map((text): BodyChoice => ({ kind: 'raw', text })),
    weight: 2,
  },
  { arbitrary: fc.constant<BodyChoice>({ kind: 'none' }), weight: 1 },
);

/** Query parameters nobody asked for, and absurd ones: repeated keys, empty names, huge values. */
export const extraQuery: fc.Arbitrary<Array<[string, string]>> = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom('cursor', 'limit', 'status', 'plan_id', '', '__proto__', 'a[]', 'x'), fc.string({ maxLength: 8 })),
    fc.oneof(nastyString, fc.constantFrom(...NUMBER_STRINGS), fc.constantFrom(...BOUNDARY_NUMBERS.map(String))),
  ),
  { maxLength: 3 },
);

/** A path parameter as sent: usually the field's value, percent-encoded; sometimes raw bytes no encoder would make. */
export type PathMode = 'encoded' | 'raw';

/** Mostly encoded. */
export const pathMode: fc.Arbitrary<PathMode> = fc.oneof({ arbitrary: fc.constant<PathMode>('encoded'), weight: 6 }, { arbitrary: fc.constant<PathMode>('raw'), weight: 1 });
