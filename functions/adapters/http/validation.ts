import * as v from 'valibot';
import { ValidationFailedError, type FieldIssue } from '../../domain/errors';

/** Largest request body accepted, in bytes; anything larger is refused before parsing. */
export const MAX_BODY_BYTES = 64 * 1024;

const issueToDetail = (issue: v.BaseIssue<unknown>): FieldIssue => {
  const path = v.getDotPath(issue) ?? '';
  const missing = issue.input === undefined && issue.kind === 'schema';
  return { path, message: missing ? `${path || 'value'} is required.` : issue.message };
};

/** Parses `value` with a valibot schema; every problem becomes one VALIDATION_FAILED detail. */
export const parseWith = <S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> => {
  const result = v.safeParse(schema, value, { abortPipeEarly: true });
  if (result.success) return result.output;
  const details: FieldIssue[] = [];
  for (const issue of result.issues) {
    const detail = issueToDetail(issue);
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

/** An integer field within [min, max]: strings, floats and out-of-range numbers are refused. */
export const boundedInteger = (field: string, min: number, max: number) => {
  const message = `${field} must be an integer from ${min} to ${max}.`;
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
};

/** A resource id as sent by callers: a non-empty string of bounded length. */
export const resourceId = (field: string) => {
  const message = `${field} must be a non-empty string of at most 100 characters.`;
  return v.pipe(v.string(message), v.trim(), v.minLength(1, message), v.maxLength(100, message));
};
