import * as v from 'valibot';
import {
  allotmentShardSize,
  decideRedemption,
  isBillable,
  redeemedEvent,
  redemptionBilling,
  redemptionCommit,
  subscriberIdProblem,
  type CodeForRedemption,
} from '../../functions/domain/redemption';
import { ALLOTMENT_SHARDS } from '../../functions/contracts/table';
import { RedeemAccessCodeBodySchema } from '../../functions/operations/redeem-access-code';
import { EventEnvelopeSchema } from '../../functions/contracts/events';

const tier = { freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' };

describe('the billing rule', () => {
  test('a redemption is billed iff it commits beyond the allotment at a price above 0', () => {
    expect((['free', 'beyond'] as const).map((phase) => isBillable(tier, phase))).toEqual([false, true]);
    expect((['free', 'beyond'] as const).map((phase) => isBillable({ ...tier, unitPriceMinor: 0 }, phase))).toEqual([false, false]);
  });

  test('the answer shows the period, allotment, overage and the price in the currency\'s precision; price 0 is never overage', () => {
    expect(redemptionBilling({ freeAllotment: 2, unitPriceMinor: 1205, currency: 'KWD' }, '2026-11', 'beyond')).toEqual({
      period: '2026-11', free_allotment: 2, overage: true, unit_price: '1.205', currency: 'KWD',
    });
    expect(redemptionBilling({ freeAllotment: 2, unitPriceMinor: 0, currency: 'JPY' }, '2026-11', 'beyond').overage).toBe(false);
  });

  test.each([0, 1, 10, 31, 32, 33, 1_000, 999_999])('an allotment of %i splits over the shards exactly, no shard two units above another', (allotment) => {
    const sizes = Array.from({ length: ALLOTMENT_SHARDS }, (_, shard) => allotmentShardSize(allotment, shard, ALLOTMENT_SHARDS));
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(allotment);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  test('a commit beyond the allotment records usage: queued for the customer, pending without one, no_charge at price 0; a free one records nothing', () => {
    const request = (unitPriceMinor: number, stripeCustomerId: string | null) => ({
      code: '7KQ29XMD4TRV', subscriberId: 'usr_1', plan: { id: 'pln_1' }, project: { id: 'prj_1', tier: { ...tier, unitPriceMinor }, stripeCustomerId },
    });
    const ids = { subscriptionId: 'sub_1', redemptionId: 'rdm_1', eventId: 'evt_1' };
    const at = new Date('2026-11-21T12:00:00Z');
    expect(redemptionCommit(request(3, 'cus_1'), ids, 'beyond', at)).toMatchObject({ billed: true, usage: { state: 'queued', stripeCustomerId: 'cus_1' } });
    expect(redemptionCommit(request(3, null), ids, 'beyond', at)).toMatchObject({ billed: true, usage: { state: 'pending', stripeCustomerId: null } });
    expect(redemptionCommit(request(0, 'cus_1'), ids, 'beyond', at)).toMatchObject({ billed: false, usage: { state: 'no_charge' } });
    const free = redemptionCommit(request(3, 'cus_1'), ids, 'free', at);
    expect(free).toMatchObject({ billed: false, usage: null, answer: { subscription_id: 'sub_1', redeemed_at: at.toISOString(), billing: { period: '2026-11', overage: false } } });
    expect(free.event).toMatchObject({ id: 'evt_1', data: { access_code: 'masked_D4TRV' } });
  });
});

describe('the redemption rule', () => {
  const at = new Date('2026-11-21T12:00:00.000Z');
  const answer = {
    subscription_id: 'sub_1', plan_id: 'pln_1', subscriber_id: 'usr_1', access_code: 'masked_D4TRV', redeemed_at: '2026-11-20T00:00:00.000Z',
    billing: { period: '2026-11', free_allotment: 10, overage: false, unit_price: '0.03', currency: 'USD' },
  };
  const code = (changes: Partial<CodeForRedemption> = {}): CodeForRedemption => ({
    code: '7KQ29XMD4TRV', planId: 'pln_1', projectId: 'prj_1', teamId: 'tea_1', jobId: 'mjb_1', slot: 0, status: 'active', expiresAt: null, redemption: null, ...changes,
  });
  const redeemed = code({ status: 'redeemed', redemption: { redemptionId: 'rdm_1', subscriberId: 'usr_1', answer } });
  const by = (subscriberId: string, teamId = 'tea_1') => ({ teamId, subscriberId });

  test.each([
    ['an unknown code', undefined, by('usr_1'), 'not-found'],
    ['another team\'s code', code(), by('usr_1', 'tea_2'), 'not-found'],
    ['another team\'s redeemed code', redeemed, by('usr_1', 'tea_2'), 'not-found'],
    ['an active code', code(), by('usr_1'), 'redeemable'],
    ['a code expiring a millisecond later', code({ expiresAt: '2026-11-21T12:00:00.001Z' }), by('usr_1'), 'redeemable'],
    ['a code expiring at that very instant, unswept', code({ expiresAt: at.toISOString() }), by('usr_1'), 'expired'],
    ['a code swept to expired', code({ status: 'expired', expiresAt: '2026-11-01T00:00:00.000Z' }), by('usr_1'), 'expired'],
    ['a code redeemed by someone else', redeemed, by('usr_2'), 'already-redeemed'],
    ['a code redeemed by the same subscriber', redeemed, by('usr_1'), 'replayed'],
  ] as const)('%s → %s', (_label, stored, request, outcome) => {
    expect(decideRedemption(stored, request, at).outcome).toBe(outcome);
  });

  test('a replay answers the stored answer, field for field in the answer\'s order', () => {
    const shuffled = { billing: { ...answer.billing }, redeemed_at: answer.redeemed_at, access_code: answer.access_code, subscriber_id: 'usr_1', plan_id: 'pln_1', subscription_id: 'sub_1' };
    const decision = decideRedemption(code({ status: 'redeemed', redemption: { redemptionId: 'rdm_1', subscriberId: 'usr_1', answer: shuffled } }), by('usr_1'), at);
    expect(JSON.stringify(decision)).toBe(JSON.stringify({ outcome: 'replayed', answer }));
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
