import { currencyExponent, formatMinorUnits, isCurrency } from '../../functions/domain/money';

describe('formatMinorUnits', () => {
  test.each([
    [0, 'USD', '0.00'],
    [3, 'USD', '0.03'],
    [120, 'USD', '1.20'],
    [141, 'EUR', '1.41'],
    [123_456_789, 'USD', '1234567.89'],
    [120, 'JPY', '120'],
    [1205, 'KWD', '1.205'],
    [5, 'KWD', '0.005'],
  ])('prints %i minor units of %s as "%s"', (amount, currency, expected) => {
    expect(formatMinorUnits(amount, currency)).toBe(expected);
  });

  test('refuses amounts that are not non-negative safe integers', () => {
    expect(() => formatMinorUnits(-1, 'USD')).toThrow(RangeError);
    expect(() => formatMinorUnits(1.5, 'USD')).toThrow(RangeError);
    expect(() => formatMinorUnits(2 ** 53, 'USD')).toThrow(RangeError);
  });
});

describe('currencies', () => {
  test('knows each currency’s own number of decimals', () => {
    expect([currencyExponent('USD'), currencyExponent('JPY'), currencyExponent('BHD')]).toEqual([2, 0, 3]);
  });

  test('accepts ISO 4217 codes and refuses anything else', () => {
    expect(isCurrency('USD')).toBe(true);
    expect(isCurrency('usd')).toBe(false);
    expect(isCurrency('XYZ')).toBe(false);
    expect(isCurrency('DOLLAR')).toBe(false);
  });
});
