import * as v from 'valibot';

/** An integer field within [min, max]: strings, floats and out-of-range numbers are refused. */
export const boundedInteger = (field: string, min: number, max: number) => {
  const message = `${field} must be an integer from ${min} to ${max}.`;
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max, message));
};

/** Holds at least one character that is not white space: a blank identifier names nothing. */
export const NOT_BLANK = /\S/;

/**
 * A resource id as sent by callers: a string of at most 100 characters, not blank (white space
 * alone is refused, not read as "no filter"); surrounding white space is dropped.
 */
export const resourceId = (field: string) => {
  const message = `${field} must be a non-empty string of at most 100 characters.`;
  return v.pipe(v.string(message), v.regex(NOT_BLANK, message), v.trim(), v.minLength(1, message), v.maxLength(100, message));
};

/** One of a fixed list of strings, with a message that lists them. */
export const oneOf = <const T extends readonly string[]>(field: string, options: T) =>
  v.picklist(options, `${field} must be one of ${options.join(', ')}.`);

/** An optional boolean; strings such as "true" are refused. */
export const optionalBoolean = (field: string) => v.optional(v.boolean(`${field} must be true or false.`));

/** RFC 3339's date-time (JSON Schema's `date-time` format): a `T`, seconds, an optional fraction, `Z` or `±hh:mm`. */
const RFC3339_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

/** Whether an RFC 3339 date-time names a day the calendar has (no 30 February, 29 February only in leap years). */
export const isCalendarDate = (value: string): boolean => {
  const match = RFC3339_DATE_TIME.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
};

/**
 * An instant as RFC 3339 has it (`2026-05-18T10:00:00Z`, `2026-05-18T12:00:00.5+02:00`), on a real
 * calendar day. JSON Schema shows it as `format: date-time`, which means the same; the calendar
 * check itself has no JSON Schema keyword and is enforced here.
 */
export const isoDateTime = (field: string) => {
  const message = `${field} must be an ISO 8601 time with a zone on a real calendar day, such as 2026-05-18T10:00:00Z.`;
  return v.pipe(v.string(message), v.isoTimestamp(message), v.regex(RFC3339_DATE_TIME, message), v.check(isCalendarDate, message));
};
