import * as v from 'valibot';

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

/** One of a fixed list of strings, with a message that lists them. */
export const oneOf = <const T extends readonly string[]>(field: string, options: T) =>
  v.picklist(options, `${field} must be one of ${options.join(', ')}.`);

/** An optional boolean; strings such as "true" are refused. */
export const optionalBoolean = (field: string) => v.optional(v.boolean(`${field} must be true or false.`));
