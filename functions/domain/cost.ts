import { formatMinorUnits } from './money';

/** What a project's creator tier allows and charges. */
export interface Tier {
  /** Redemptions per billing period that cost nothing. */
  freeAllotment: number;
  /** Price of one redemption beyond the allotment, in the currency's minor units. */
  unitPriceMinor: number;
  /** ISO 4217 code, upper case. */
  currency: string;
}

/** The cost preview embedded in preview and bulk-generate answers. */
export interface CostPreview {
  free_remaining: number;
  chargeable_quantity: number;
  cost: string;
}

/**
 * Worst-case cost of `quantity` codes if all are redeemed this period:
 * free_remaining = max(0, allotment − free units used this period), chargeable = max(0, quantity − free_remaining),
 * cost = chargeable × unit price, printed in the tier's currency.
 */
export const previewCost = (tier: Tier, freeUsedThisPeriod: number, quantity: number): CostPreview => {
  const freeRemaining = Math.max(0, tier.freeAllotment - freeUsedThisPeriod);
  const chargeable = Math.max(0, quantity - freeRemaining);
  return {
    free_remaining: freeRemaining,
    chargeable_quantity: chargeable,
    cost: formatMinorUnits(chargeable * tier.unitPriceMinor, tier.currency),
  };
};

/**
 * Whether redeeming every code of a preview would bill anything: chargeable codes at a price above
 * zero. A free tier price (0) bills nothing, however many codes exceed the allotment.
 */
export const wouldBillOverage = (tier: Tier, preview: CostPreview): boolean =>
  preview.chargeable_quantity > 0 && tier.unitPriceMinor > 0;
