import { billingPeriodOf } from '../../functions/domain/billing-period';
import { previewCost, wouldBillOverage } from '../../functions/domain/cost';

const demoTier = { freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' };

describe('previewCost', () => {
  test('charges only what exceeds the free allotment left this period', () => {
    expect(previewCost(demoTier, 0, 50)).toEqual({ free_remaining: 10, chargeable_quantity: 40, cost: '1.20' });
  });

  test('charges nothing while the quantity fits in the free allotment', () => {
    expect(previewCost(demoTier, 0, 5)).toEqual({ free_remaining: 10, chargeable_quantity: 0, cost: '0.00' });
    expect(previewCost(demoTier, 0, 10)).toEqual({ free_remaining: 10, chargeable_quantity: 0, cost: '0.00' });
  });

  test('counts the redemptions already made this period', () => {
    expect(previewCost(demoTier, 7, 50)).toEqual({ free_remaining: 3, chargeable_quantity: 47, cost: '1.41' });
  });

  test('never lets free_remaining go below zero once the allotment is exceeded', () => {
    expect(previewCost(demoTier, 25, 4)).toEqual({ free_remaining: 0, chargeable_quantity: 4, cost: '0.12' });
  });

  test('prices in the tier currency’s own precision', () => {
    expect(previewCost({ freeAllotment: 0, unitPriceMinor: 50, currency: 'JPY' }, 0, 3).cost).toBe('150');
  });

  test('stays exact at the largest quantity and price', () => {
    expect(previewCost({ freeAllotment: 0, unitPriceMinor: 10_000_000, currency: 'USD' }, 0, 10_000).cost).toBe('1000000000.00');
  });
});

describe('wouldBillOverage', () => {
  test('is true when chargeable codes have a price', () => {
    expect(wouldBillOverage(demoTier, previewCost(demoTier, 0, 11))).toBe(true);
  });

  test('is false while the quantity fits in the free allotment', () => {
    expect(wouldBillOverage(demoTier, previewCost(demoTier, 0, 10))).toBe(false);
  });

  test('is false at a unit price of 0, however many codes are chargeable', () => {
    const freeTier = { freeAllotment: 0, unitPriceMinor: 0, currency: 'USD' };
    const preview = previewCost(freeTier, 0, 500);
    expect(preview).toEqual({ free_remaining: 0, chargeable_quantity: 500, cost: '0.00' });
    expect(wouldBillOverage(freeTier, preview)).toBe(false);
  });
});

describe('billingPeriodOf', () => {
  test('is the calendar month in UTC, whatever the local offset', () => {
    expect(billingPeriodOf(new Date('2026-11-30T23:59:59.999Z'))).toBe('2026-11');
    expect(billingPeriodOf(new Date('2026-12-01T00:00:00Z'))).toBe('2026-12');
    expect(billingPeriodOf(new Date('2026-12-01T01:30:00+02:00'))).toBe('2026-11');
  });
});
