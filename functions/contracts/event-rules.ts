import { EVENT_SOURCE, type AccessCodeEventType } from './events';

/** A value an event field may equal exactly. */
export type PatternScalar = string | number | boolean | null;

/** EventBridge's prefix matcher: the field is a string that starts with `prefix`. */
export interface PrefixMatcher {
  prefix: string;
}

/** One alternative of a leaf: an exact value or a prefix. */
export type PatternMatcher = PatternScalar | PrefixMatcher;

/**
 * The subset of EventBridge's event pattern syntax that this service uses, and that
 * `matchesPattern` implements: for each field, either a non-empty list of alternatives
 * (exact values or prefixes), or a nested pattern for an object field such as `detail`.
 */
export interface EventPattern {
  readonly [field: string]: readonly PatternMatcher[] | EventPattern;
}

/** One EventBridge rule on the service's bus: its id (a CDK construct id) and pattern. */
export interface EventRule {
  id: string;
  description: string;
  pattern: EventPattern;
}

const ruleFor = (id: string, type: AccessCodeEventType, description: string): EventRule => ({
  id,
  description,
  pattern: { source: [EVENT_SOURCE], 'detail-type': [type] },
});

/**
 * The rules of the service's bus, shared by the CDK stack and the local bus so that both
 * route the same events to the same targets.
 */
export const EVENT_RULES: readonly EventRule[] = [
  ruleFor('AccessCodeGenerated', 'access_code.generated', 'A batch of access codes is stored (once per batch).'),
  ruleFor('AccessCodeRedeemed', 'access_code.redeemed', 'An access code was redeemed.'),
  ruleFor('AccessCodeExpired', 'access_code.expired', 'An access code expired unredeemed.'),
];

/** Every event the service publishes (the pattern of the bus's archive). */
export const ALL_SERVICE_EVENTS: EventPattern = { source: [EVENT_SOURCE] };

/** The rule with this id; throws for an unknown one, which is a wiring mistake. */
export const eventRule = (id: string): EventRule => {
  const rule = EVENT_RULES.find((candidate) => candidate.id === id);
  if (!rule) throw new Error(`No event rule ${id}; known rules: ${EVENT_RULES.map((known) => known.id).join(', ')}`);
  return rule;
};

/** A pattern uses syntax outside the subset implemented here. */
export class UnsupportedPatternError extends Error {}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isPrefixMatcher = (matcher: PatternMatcher): matcher is PrefixMatcher =>
  isPlainObject(matcher) && Object.keys(matcher).length === 1 && typeof matcher.prefix === 'string';

/**
 * Throws UnsupportedPatternError unless the pattern is valid and within the subset: so an
 * operator EventBridge knows but this matcher does not (numeric, anything-but, exists…) fails
 * loudly instead of never matching.
 */
export const assertSupportedPattern = (pattern: EventPattern, path = ''): void => {
  const fields = Object.entries(pattern);
  if (fields.length === 0) throw new UnsupportedPatternError(`Empty pattern${path ? ` at ${path}` : ''}`);
  for (const [field, value] of fields) {
    const at = path ? `${path}.${field}` : field;
    if (Array.isArray(value)) {
      if (value.length === 0) throw new UnsupportedPatternError(`Empty list of values at ${at}`);
      for (const matcher of value as readonly unknown[]) {
        const supported =
          matcher === null || ['string', 'number', 'boolean'].includes(typeof matcher) || isPrefixMatcher(matcher as PatternMatcher);
        if (!supported) throw new UnsupportedPatternError(`Unsupported matcher at ${at}: ${JSON.stringify(matcher)}`);
      }
    } else if (isPlainObject(value)) {
      assertSupportedPattern(value as EventPattern, at);
    } else {
      throw new UnsupportedPatternError(`A pattern field must be a list or an object, at ${at}`);
    }
  }
};

const matcherMatches = (matcher: PatternMatcher, value: unknown): boolean => {
  if (isPrefixMatcher(matcher)) return typeof value === 'string' && value.startsWith(matcher.prefix);
  return matcher === value;
};

// EventBridge matches a list of alternatives against an array field if any element matches.
const leafMatches = (matchers: readonly PatternMatcher[], value: unknown): boolean => {
  const values = Array.isArray(value) ? value : [value];
  return values.some((element) => !isPlainObject(element) && matchers.some((matcher) => matcherMatches(matcher, element)));
};

const objectMatches = (pattern: EventPattern, value: unknown): boolean => {
  // An array of objects matches a nested pattern if one of its elements does.
  if (Array.isArray(value)) return value.some((element) => objectMatches(pattern, element));
  if (!isPlainObject(value)) return false;
  return Object.entries(pattern).every(([field, sub]) => {
    // A field the pattern names must be present; `null` matches only a null value.
    if (!Object.hasOwn(value, field)) return false;
    return Array.isArray(sub) ? leafMatches(sub, value[field]) : objectMatches(sub as EventPattern, value[field]);
  });
};

/**
 * Whether an event matches a pattern, as EventBridge decides for the supported subset:
 * every field the pattern names must match (fields it does not name are ignored); a list
 * matches if the value equals one of its exact values (case-sensitive, same JSON type) or
 * starts with one of its prefixes.
 */
export const matchesPattern = (pattern: EventPattern, event: unknown): boolean => {
  assertSupportedPattern(pattern);
  return objectMatches(pattern, event);
};

/**
 * The pattern with the property names of aws-cdk-lib's `events.EventPattern` (camelCase
 * `detailType`), for `new events.Rule(…, { eventPattern })`; CDK renders them back.
 */
export const toCdkEventPattern = (pattern: EventPattern): Record<string, unknown> =>
  Object.fromEntries(Object.entries(pattern).map(([field, value]) => [field === 'detail-type' ? 'detailType' : field, value]));
