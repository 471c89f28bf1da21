import { meterTimestamp, recordsMessages, retryDelayMs, BILLING_POLICY, MAX_WINDOW_SIZE } from '../../functions/domain/billing';
import {
  billingMessageDeduplicationId,
  billingMessageGroup,
  parseBillingMessage,
  type BillingMessage,
} from '../../functions/contracts/queue-messages';

const records: BillingMessage & { kind: 'records' } = { kind: 'records', stripe_customer_id: 'cus_A', period: '2026-05', redemption_ids: ['rdm_01', 'rdm_02'] };
const window: BillingMessage & { kind: 'window' } = { kind: 'window', stripe_customer_id: 'cus_A', window_id: 'bwn_01', attempts: 2, queued_at: '2026-05-01T12:00:00.000Z' };

describe('billing queue message', () => {
  it('parses both kinds', () => {
    expect(parseBillingMessage(JSON.stringify(records))).toEqual(records);
    expect(parseBillingMessage(JSON.stringify(window))).toEqual(window);
  });

  it.each([
    ['a period that is no month', { ...records, period: '2026-13' }],
    ['no redemption ids', { ...records, redemption_ids: [] }],
    ['more ids than one window holds', { ...records, redemption_ids: Array.from({ length: MAX_WINDOW_SIZE + 1 }, (_, i) => `rdm_${i}`) }],
    ['an empty redemption id', { ...records, redemption_ids: [''] }],
    ['no customer', { ...records, stripe_customer_id: null }],
    ['an unknown kind', { ...records, kind: 'redemption' }],
  ])('refuses %s', (_, body) => {
    expect(parseBillingMessage(JSON.stringify(body))).toBeUndefined();
  });

  it('refuses a body that is not JSON', () => {
    expect(parseBillingMessage('{not json')).toBeUndefined();
  });

  it('groups by Stripe customer; the same records dedupe, each queueing of a window does not', () => {
    expect(billingMessageGroup(records)).toBe('cus_A');
    expect(billingMessageDeduplicationId(records)).toBe(billingMessageDeduplicationId({ ...records, redemption_ids: [...records.redemption_ids] }));
    expect(billingMessageDeduplicationId(records)).not.toBe(billingMessageDeduplicationId({ ...records, redemption_ids: ['rdm_01'] }));
    expect(billingMessageDeduplicationId(window)).not.toBe(billingMessageDeduplicationId({ ...window, queued_at: '2026-05-01T12:01:00.000Z' }));
  });

  it('turns queued records into one message per customer and period, at most a window each, and skips those without a customer', () => {
    const many = Array.from({ length: MAX_WINDOW_SIZE + 3 }, (_, i) => ({ redemptionId: `rdm_${i}`, stripeCustomerId: 'cus_A', period: '2026-05' }));
    const messages = recordsMessages([...many, { redemptionId: 'rdm_b', stripeCustomerId: 'cus_B', period: '2026-05' }, { redemptionId: 'rdm_p', stripeCustomerId: null, period: '2026-05' }]);
    expect(messages.map((m) => (m.kind === 'records' ? [m.stripe_customer_id, m.redemption_ids.length] : []))).toEqual([
      ['cus_A', MAX_WINDOW_SIZE],
      ['cus_A', 3],
      ['cus_B', 1],
    ]);
  });
});

describe('billing retries', () => {
  it('double from the base up to the cap, and keep going for the whole horizon (at least 3 days)', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(BILLING_POLICY, n))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelayMs(BILLING_POLICY, 500)).toBe(BILLING_POLICY.retryCapMs);
    expect(BILLING_POLICY.retryHorizonMs).toBeGreaterThanOrEqual(3 * 86_400_000);
    // Stripe refuses timestamps older than 35 days: the horizon ends before.
    expect(BILLING_POLICY.retryHorizonMs).toBeLessThan(35 * 86_400_000);
  });

  it('keep a window\'s timestamp, bringing only one too old for Stripe into its 35 days', () => {
    const now = new Date('2026-05-20T00:00:00Z');
    expect(meterTimestamp({ timestamp: '2026-05-19T10:00:00.000Z' }, now).toISOString()).toBe('2026-05-19T10:00:00.000Z');
    expect(meterTimestamp({ timestamp: '2026-03-01T00:00:00.000Z' }, now).toISOString()).toBe('2026-04-16T00:00:00.000Z');
    expect(meterTimestamp({ timestamp: '2026-05-21T00:00:00.000Z' }, now).toISOString()).toBe(now.toISOString());
  });
});
