import { addUtcMonths, expiryInstant } from '../../functions/domain/expiry';

const at = (iso: string) => new Date(iso);
const expiry = (request: Parameters<typeof expiryInstant>[0], now: string) => expiryInstant(request, at(now))?.toISOString() ?? null;

describe('expiryInstant', () => {
  test('no_expiry never expires', () => {
    expect(expiry({ preset: 'no_expiry' }, '2026-05-18T10:05:00Z')).toBeNull();
  });

  test.each([
    ['1_day', '2026-05-18T10:05:00.000Z', '2026-05-19T10:05:00.000Z'],
    ['1_week', '2026-05-18T10:05:00.000Z', '2026-05-25T10:05:00.000Z'],
    ['1_month', '2026-05-18T10:05:00.000Z', '2026-06-18T10:05:00.000Z'],
    ['1_month', '2026-01-31T10:00:00.000Z', '2026-02-28T10:00:00.000Z'],
    ['1_month', '2028-01-31T10:00:00.000Z', '2028-02-29T10:00:00.000Z'],
    ['1_month', '2026-12-15T00:00:00.000Z', '2027-01-15T00:00:00.000Z'],
    ['1_year', '2028-02-29T12:00:00.000Z', '2029-02-28T12:00:00.000Z'],
  ] as const)('%s from %s is %s (calendar-aware, UTC)', (preset, now, expected) => {
    expect(expiry({ preset }, now)).toBe(expected);
  });

  test.each([
    [3, 'days', '2026-03-04T00:00:00.000Z'],
    [2, 'weeks', '2026-03-15T00:00:00.000Z'],
    [1, 'months', '2026-04-01T00:00:00.000Z'],
    [13, 'months', '2027-04-01T00:00:00.000Z'],
    [2, 'years', '2028-03-01T00:00:00.000Z'],
  ] as const)('custom %i %s from 2026-03-01', (amount, unit, expected) => {
    expect(expiry({ preset: 'custom', amount, unit }, '2026-03-01T00:00:00Z')).toBe(expected);
  });

  test('custom months from the 31st clamp to the month’s end', () => {
    expect(addUtcMonths(at('2026-08-31T08:00:00Z'), 1).toISOString()).toBe('2026-09-30T08:00:00.000Z');
  });
});
