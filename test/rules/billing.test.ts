import { billingMessageGroup, parseBillingMessage } from '../../functions/domain/billing';

const valid = {
  redemption_id: 'rdm_01',
  project_id: 'prj_1',
  period: '2026-05',
  stripe_customer_id: 'cus_A',
  redeemed_at: '2026-05-01T11:59:00.000Z',
};

describe('billing queue message', () => {
  it('parses a billing message, with or without a Stripe customer', () => {
    expect(parseBillingMessage(JSON.stringify(valid))).toEqual(valid);
    expect(parseBillingMessage(JSON.stringify({ ...valid, stripe_customer_id: null }))).toEqual({ ...valid, stripe_customer_id: null });
  });

  it.each([
    ['a period that is no month', { ...valid, period: '2026-13' }],
    ['a redemption time that is no timestamp', { ...valid, redeemed_at: 'yesterday' }],
    ['a missing customer field (null must be said)', { ...valid, stripe_customer_id: undefined }],
    ['an empty redemption id', { ...valid, redemption_id: '' }],
  ])('refuses %s', (_, body) => {
    expect(parseBillingMessage(JSON.stringify(body))).toBeUndefined();
  });

  it('refuses a body that is not JSON', () => {
    expect(parseBillingMessage('{not json')).toBeUndefined();
  });

  it('groups messages by Stripe customer, and pending ones by project', () => {
    expect(billingMessageGroup(valid)).toBe('cus_A');
    expect(billingMessageGroup({ ...valid, stripe_customer_id: null })).toBe('pending:prj_1');
  });
});
