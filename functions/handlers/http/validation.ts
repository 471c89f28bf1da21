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

/**
 * Parses `value` with a valibot schema; every bad field, cross-field rules included, becomes one
 * VALIDATION_FAILED detail (the first problem of each field). `rename` maps a field to the name
 * the caller used for it (e.g. the `idempotency-key` header of `idempotency_key`).
 */
export const parseWith = <S extends v.GenericSchema>(schema: S, value: unknown, rename: Readonly<Record<string, string>> = {}): v.InferOutput<S> => {
  // Not abortPipeEarly: the rules that span fields run in the object's pipe after its fields,
  // and must report alongside them (each partialCheck only runs when its own fields are fine).
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const details: FieldIssue[] = [];
  for (const issue of result.issues) {
    const detail = issueToDetail(issue, rename);
    if (!details.some((d) => d.path === detail.path)) details.push(detail);
  }
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
