import * as v from 'valibot';
import { isBillable, isOverage, redeemedEvent, redemptionBilling, RedeemAccessCodeBodySchema, subscriberIdProblem } from '../../functions/domain/redemption';
import { EventEnvelopeSchema } from '../../functions/contracts/events';

const tier = { freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' };

describe('the billing rule', () => {
  test('redemption n of a period is billed iff n is beyond the allotment and the price is above 0', () => {
    expect([1, 10, 11, 25].map((n) => isBillable(tier, n))).toEqual([false, false, true, true]);
    expect([10, 11].map((n) => isBillable({ ...tier, unitPriceMinor: 0 }, n))).toEqual([false, false]);
    expect(isOverage({ ...tier, unitPriceMinor: 0 }, 11)).toBe(true);
    expect(isBillable({ ...tier, freeAllotment: 0 }, 1)).toBe(true);
  });

  test('the answer shows the period, number, allotment, overage and the price in the currency\'s precision', () => {
    expect(redemptionBilling({ freeAllotment: 2, unitPriceMinor: 1205, currency: 'KWD' }, '2026-11', 3)).toEqual({
      period: '2026-11', redemption_number: 3, free_allotment: 2, overage: true, unit_price: '1.205', currency: 'KWD',
    });
  });
});

describe('subscriber ids', () => {
  test.each(['u', 'usr_01HX', 'x'.repeat(128), 'Zoë Smith', '名前'])('%s is accepted', (id) => expect(subscriberIdProblem(id)).toBeUndefined());
  test.each(['', 'x'.repeat(129), 'a\tb', 'a\u0000', 'a\u200Bb', 'a\u2028b'])('%j is refused', (id) => expect(subscriberIdProblem(id)).toBeDefined());

  test('the request schema names the field at fault', () => {
    const result = v.safeParse(RedeemAccessCodeBodySchema, { code: 'ABCD-EFGH-JKMN', subscriber_id: '' });
    expect(result.success).toBe(false);
    expect(result.issues?.map((issue) => v.getDotPath(issue))).toEqual(['subscriber_id']);
    expect(v.safeParse(RedeemAccessCodeBodySchema, { code: 'ABCD-EFGH-JKMN', subscriber_id: 'usr_1' }).success).toBe(true);
    expect(v.safeParse(RedeemAccessCodeBodySchema, { code: 'ABCD-EFGH-JKMN', subscriber_id: 'usr_1', extra: 1 }).success).toBe(false);
  });
});

describe('access_code.redeemed', () => {
  test('carries the spec payload with the code masked to its last five symbols, in a valid envelope', () => {
    const event = redeemedEvent({ projectId: 'prj_1', subscriptionId: 'sub_1', planId: 'pln_1', subscriberId: 'usr_1', code: '7KQ29XMD4TRV' }, new Date('2026-05-18T10:05:00Z'));
    expect(v.is(EventEnvelopeSchema, event)).toBe(true);
    expect(event).toMatchObject({ type: 'access_code.redeemed', created_at: '2026-05-18T10:05:00.000Z', project_id: 'prj_1' });
    expect(event.data).toEqual({ subscription_id: 'sub_1', plan_id: 'pln_1', subscriber_id: 'usr_1', access_code: 'masked_D4TRV' });
    expect(JSON.stringify(event)).not.toContain('7KQ29XMD4TRV');
  });
});
