import * as v from 'valibot';
import { ValidationFailedError, type FieldIssue } from '../../domain/errors';

/** Largest request body accepted, in bytes; anything larger is refused before parsing. */
export const MAX_BODY_BYTES = 64 * 1024;

const issueToDetail = (issue: v.BaseIssue<unknown>, rename: Readonly<Record<string, string>>): FieldIssue => {
  const dotPath = v.getDotPath(issue) ?? '';
  // Own keys only: a field named `constructor` or `toString` must not find Object.prototype's.
  const path = Object.hasOwn(rename, dotPath) ? rename[dotPath]! : dotPath;
  const missing = issue.input === undefined && issue.kind === 'schema';
  return { path, message: missing ? `${path || 'value'} is required.` : issue.message };
};

/** The strict object's issue for a key it does not know (valibot reports only the first such key). */
const isUnknownKeyIssue = (issue: v.BaseIssue<unknown>): boolean => issue.type === 'strict_object' && issue.expected === 'never';

/** How many single-character edits turn `a` into `b` (for "did you mean"). */
const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
};

/**
 * One detail per field the schema does not know, each named, with the known field it is most
 * likely a typo of: a misspelt optional field (`expire_at`) must never be dropped silently and
 * the request run without it.
 */
const unknownFieldDetails = (schema: v.GenericSchema, value: unknown, rename: Readonly<Record<string, string>>): FieldIssue[] => {
  const entries = (schema as { type: string; entries?: v.ObjectEntries }).type === 'strict_object' ? (schema as { entries?: v.ObjectEntries }).entries : undefined;
  if (!entries || value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  const known = Object.keys(entries).map((field) => (Object.hasOwn(rename, field) ? rename[field]! : field));
  return Object.keys(value)
    .filter((key) => !Object.hasOwn(entries, key))
    .map((key) => {
      const near = known.filter((field) => editDistance(key.toLowerCase(), field.toLowerCase()) <= 2).sort((a, b) => editDistance(key, a) - editDistance(key, b))[0];
      return { path: key, message: `${key} is not a field of this operation${near ? ` (did you mean ${near}?)` : ''}.` };
    });
};

/**
 * Parses `value` with a valibot schema; every bad field, cross-field rules included, becomes one
 * VALIDATION_FAILED detail (the first problem of each field), and so does every unknown field of a
 * strict object. `rename` maps a field to the name the caller used for it (e.g. the
 * `idempotency-key` header of `idempotency_key`); `extra` are problems found before parsing
 * (a path field sent in the body), reported with the rest.
 */
export const parseWith = <S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  rename: Readonly<Record<string, string>> = {},
  extra: readonly FieldIssue[] = [],
): v.InferOutput<S> => {
  // Not abortPipeEarly: the rules that span fields run in the object's pipe after its fields,
  // and must report alongside them (each partialCheck only runs when its own fields are fine).
  const result = v.safeParse(schema, value);
  if (result.success && extra.length === 0) return result.output;
  const details: FieldIssue[] = [...extra];
  for (const issue of result.issues ?? []) {
    if (isUnknownKeyIssue(issue)) continue;
    const detail = issueToDetail(issue, rename);
    if (!details.some((d) => d.path === detail.path)) details.push(detail);
  }
  for (const detail of unknownFieldDetails(schema, value, rename)) if (!details.some((d) => d.path === detail.path)) details.push(detail);
  throw new ValidationFailedError(details);
};

/**
 * Decodes an HTTP body as a JSON object. A missing, oversized, non-JSON or non-object body is a
 * VALIDATION_FAILED on the body itself (path ""), never a server error.
 */
export const decodeJsonObject = (body: string | undefined, isBase64Encoded: boolean): Record<string, unknown> => {
  const text = body === undefined ? '' : isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) {
    throw new ValidationFailedError([{ path: '', message: `The request body must be at most ${MAX_BODY_BYTES} bytes.` }]);
  }
  if (text.trim() === '') {
    throw new ValidationFailedError([{ path: '', message: 'A JSON object body is required.' }]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ValidationFailedError([{ path: '', message: 'The request body is not valid JSON.' }]);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ValidationFailedError([{ path: '', message: 'The request body must be a JSON object.' }]);
  }
  return parsed as Record<string, unknown>;
};
