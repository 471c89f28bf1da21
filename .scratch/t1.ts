import * as v from 'valibot';
import { toJsonSchema } from '@valibot/to-json-schema';
const s = v.strictObject({ a: v.pipe(v.string(), v.regex(/\S/, 'blank'), v.trim(), v.minLength(1), v.maxLength(10)), b: v.optional(v.pipe(v.string(), v.isoTimestamp(), v.regex(/^x/), v.check(() => true))),
  c: v.optional(v.pipe(v.string(), v.regex(/^[^\p{C}]{1,128}$/u), v.regex(/\S/u))), d: v.optional(v.union([v.literal('now'), v.pipe(v.string(), v.isoTimestamp())], 'bad d')) }, 'not an object');
console.log(JSON.stringify(toJsonSchema(s, { errorMode: 'ignore' }), null, 1));
const r = v.safeParse(s, { a: '  ', x: 1, y: 2, d: 'foo' });
console.log(JSON.stringify(r.issues?.map((i) => ({ type: i.type, kind: i.kind, expected: i.expected, received: i.received, msg: i.message, path: v.getDotPath(i), input: i.input })), null, 1));
