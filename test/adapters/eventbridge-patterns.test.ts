import { EVENT_SOURCE } from '../../functions/contracts/events';
import {
  ALL_SERVICE_EVENTS,
  EVENT_RULES,
  UnsupportedPatternError,
  assertSupportedPattern,
  eventRule,
  matchesPattern,
  toCdkEventPattern,
  type EventPattern,
} from '../../functions/contracts/event-rules';

/** An event as EventBridge hands it to a rule. */
const busEvent = (detailType: string, detail: Record<string, unknown> = {}, source = EVENT_SOURCE) => ({
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': detailType,
  source,
  account: '123456789012',
  time: '2026-05-18T10:05:00Z',
  region: 'eu-west-1',
  resources: [],
  detail,
});

describe('EVENT_RULES', () => {
  test('route each access_code.* event type to exactly its own rule', () => {
    for (const [type, ruleId] of [
      ['access_code.generated', 'AccessCodeGenerated'],
      ['access_code.redeemed', 'AccessCodeRedeemed'],
      ['access_code.expired', 'AccessCodeExpired'],
    ] as const) {
      const matched = EVENT_RULES.filter((rule) => matchesPattern(rule.pattern, busEvent(type)));
      expect(matched.map((rule) => rule.id)).toEqual([ruleId]);
    }
  });

  test('match nothing from another source, and every rule stays within the supported syntax', () => {
    for (const rule of EVENT_RULES) {
      expect(matchesPattern(rule.pattern, busEvent('access_code.redeemed', {}, 'someone.else'))).toBe(false);
      expect(() => assertSupportedPattern(rule.pattern)).not.toThrow();
    }
    expect(matchesPattern(ALL_SERVICE_EVENTS, busEvent('access_code.expired'))).toBe(true);
  });

  test('are found by id, and an unknown id is a clear error', () => {
    expect(eventRule('AccessCodeRedeemed').pattern['detail-type']).toEqual(['access_code.redeemed']);
    expect(() => eventRule('Nope')).toThrow(/No event rule Nope; known rules: AccessCodeGenerated, /);
  });

  test('convert to CDK pattern properties', () => {
    expect(toCdkEventPattern(eventRule('AccessCodeExpired').pattern)).toEqual({
      source: [EVENT_SOURCE],
      detailType: ['access_code.expired'],
    });
  });
});

describe('matchesPattern', () => {
  const event = busEvent('access_code.redeemed', {
    type: 'access_code.redeemed',
    project_id: 'prj_01HX',
    data: { plan_id: 'pln_7', count: 250, active: true, expires_at: null, tags: ['a', 'b'], items: [{ k: 'x' }, { k: 'y' }] },
  });
  const cases: Array<[string, EventPattern, boolean]> = [
    ['any of several exact values', { 'detail-type': ['access_code.generated', 'access_code.redeemed'] }, true],
    ['is case-sensitive', { 'detail-type': ['ACCESS_CODE.REDEEMED'] }, false],
    ['requires every field the pattern names', { source: [EVENT_SOURCE], 'detail-type': ['access_code.expired'] }, false],
    ['ignores fields the pattern does not name', { source: [EVENT_SOURCE] }, true],
    ['nested under detail', { detail: { data: { plan_id: ['pln_7'] } } }, true],
    ['nested value that differs', { detail: { data: { plan_id: ['pln_8'] } } }, false],
    ['a number by value', { detail: { data: { count: [250] } } }, true],
    ['never a number against its string', { detail: { data: { count: ['250'] } } }, false],
    ['a boolean', { detail: { data: { active: [true] } } }, true],
    ['null against a null value', { detail: { data: { expires_at: [null] } } }, true],
    ['null never against a missing field', { detail: { data: { missing: [null] } } }, false],
    ['a missing field never', { detail: { nope: ['x'] } }, false],
    ['a prefix', { detail: { project_id: [{ prefix: 'prj_' }] } }, true],
    ['a prefix that is not one', { detail: { project_id: [{ prefix: 'pln_' }] } }, false],
    ['a prefix only against strings', { detail: { data: { count: [{ prefix: '2' }] } } }, false],
    ['an array field if any element matches', { detail: { data: { tags: ['b', 'z'] } } }, true],
    ['an array field if no element matches', { detail: { data: { tags: ['z'] } } }, false],
    ['an array of objects if one element matches the nested pattern', { detail: { data: { items: { k: ['y'] } } } }, true],
    ['a list never against an object', { detail: { data: ['x'] } }, false],
    ['a nested pattern never against a scalar', { source: { x: ['y'] } }, false],
  ];
  test.each(cases)('matches %s: %j → %s', (_name, pattern, expected) => {
    expect(matchesPattern(pattern, event)).toBe(expected);
  });

  test('refuses syntax outside the subset rather than silently not matching', () => {
    const unsupported = [
      { detail: { count: [{ numeric: ['>', 0] }] } },
      { source: [{ 'anything-but': 'x' }] },
      { source: [{ exists: true }] },
      { source: [] },
      {},
      { source: 'not-a-list' },
    ] as unknown as EventPattern[];
    for (const pattern of unsupported) {
      expect(() => matchesPattern(pattern, event)).toThrow(UnsupportedPatternError);
    }
  });
});
