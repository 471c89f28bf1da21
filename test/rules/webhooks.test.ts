import { EndpointGate, type GateAnswer } from '../../functions/use-cases/deliver-webhook';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import {
  ENDPOINT_FAILURE_WINDOW_MS,
  MAX_ATTEMPTS,
  deliveryIdFor,
  failingTooLong,
  generateWebhookSecret,
  initialSecrets,
  nextAttemptDelay,
  rotateSecrets,
  signingSecrets,
  subscribesTo,
} from '../../functions/domain/webhooks';

const HOUR = 3600;
const DAY = 24 * HOUR;

describe('the retry schedule', () => {
  const scheduleWith = (random: number): number[] => {
    const delays: number[] = [];
    for (let attempt = 1; ; attempt++) {
      const delay = nextAttemptDelay(attempt, random);
      if (delay === undefined) break;
      delays.push(delay);
    }
    return delays;
  };

  it('starts at 5 s and grows to 10 h: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, … without jitter', () => {
    expect(scheduleWith(0.5)).toEqual([5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000]);
  });

  it('adds up to about three days, whatever the jitter', () => {
    const total = (random: number) => scheduleWith(random).reduce((sum, delay) => sum + delay, 0);

    expect(total(0.5)).toBe(243_305); // 2.82 days
    expect(total(0) / DAY).toBeGreaterThan(2.5);
    expect(total(0.999999) / DAY).toBeLessThan(3.2);
  });

  it('gives a delivery twelve attempts: the first and eleven retries', () => {
    expect(scheduleWith(0.3)).toHaveLength(11);
    expect(MAX_ATTEMPTS).toBe(12);
    expect(nextAttemptDelay(MAX_ATTEMPTS, 0.5)).toBeUndefined();
    expect(nextAttemptDelay(0, 0.5)).toBeUndefined();
  });

  it('jitters each delay by at most 10 % and never below one second', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_ATTEMPTS - 1 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, random) => {
        const delay = nextAttemptDelay(attempt, random)!;
        const base = nextAttemptDelay(attempt, 0.5)!;
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(Math.max(1, Math.floor(base * 0.9)));
        expect(delay).toBeLessThanOrEqual(Math.ceil(base * 1.1));
      }),
    );
  });

  it('spreads endpoints that failed together over different retry times', () => {
    expect(nextAttemptDelay(6, 0)).toBe(32_400);
    expect(nextAttemptDelay(6, 0.99)).toBe(39_528);
  });
});

describe('disabling an endpoint that keeps failing', () => {
  const since = '2026-05-01T00:00:00.000Z';

  it('disables it after 5 days of failures with no success', () => {
    expect(failingTooLong(since, new Date(Date.parse(since) + ENDPOINT_FAILURE_WINDOW_MS))).toBe(true);
  });

  it('keeps it one second before the 5 days are up', () => {
    expect(failingTooLong(since, new Date(Date.parse(since) + ENDPOINT_FAILURE_WINDOW_MS - 1000))).toBe(false);
  });

  it('keeps an endpoint that is not failing', () => {
    expect(failingTooLong(null, new Date('2030-01-01T00:00:00Z'))).toBe(false);
  });
});

describe('event subscriptions', () => {
  it.each([
    [['access_code.*'], 'access_code.generated', true],
    [['access_code.*'], 'access_code.redeemed', true],
    [['access_code.*'], 'access_code.expired', true],
    [['access_code.*'], 'webhook.test', false],
    [['access_code.*'], 'access_codes.generated', false],
    [['access_code.redeemed'], 'access_code.redeemed', true],
    [['access_code.redeemed'], 'access_code.generated', false],
    [['access_code.generated', 'access_code.expired'], 'access_code.expired', true],
    [[], 'access_code.generated', false],
  ] as const)('an endpoint subscribed to %j receives %s: %s', (events, type, expected) => {
    expect(subscribesTo(events, type)).toBe(expected);
  });
});

describe('signing secrets', () => {
  it('are whsec_ + base64 of 32 random bytes, accepted by standardwebhooks, never twice the same', () => {
    const secrets = Array.from({ length: 50 }, generateWebhookSecret);

    for (const secret of secrets) {
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
      expect(() => new Webhook(secret)).not.toThrow();
    }
    expect(new Set(secrets).size).toBe(50);
  });

  describe('rotation', () => {
    const created = new Date('2026-05-01T00:00:00Z');
    const rotatedAt = new Date('2026-05-10T12:00:00Z');
    const at = (hoursAfterRotation: number) => new Date(rotatedAt.getTime() + hoursAfterRotation * HOUR * 1000);
    const rotated = rotateSecrets(initialSecrets('whsec_old', created), 'whsec_new', rotatedAt);
    const signing = (instant: Date) => signingSecrets(rotated, instant).map((s) => s.secret);

    it('signs with the new and the old secret during the 24 hours after rotation, newest first', () => {
      expect(signing(at(0))).toEqual(['whsec_new', 'whsec_old']);
      expect(signing(at(23.99))).toEqual(['whsec_new', 'whsec_old']);
    });

    it('signs with the new secret only once the 24 hours are over', () => {
      expect(signing(at(24))).toEqual(['whsec_new']);
      expect(signing(at(100))).toEqual(['whsec_new']);
    });

    it('keeps an earlier rotated-out secret to its own deadline when rotating again within the day', () => {
      const again = rotateSecrets(rotated, 'whsec_newer', at(6));

      expect(signingSecrets(again, at(12)).map((s) => s.secret)).toEqual(['whsec_newer', 'whsec_new', 'whsec_old']);
      expect(signingSecrets(again, at(25)).map((s) => s.secret)).toEqual(['whsec_newer', 'whsec_new']);
      expect(signingSecrets(again, at(30)).map((s) => s.secret)).toEqual(['whsec_newer']);
    });

    it('drops secrets whose overlap is over when rotating', () => {
      const later = rotateSecrets(rotated, 'whsec_third', at(48));

      expect(later.map((s) => s.secret)).toEqual(['whsec_third', 'whsec_new']);
    });
  });
});

describe('delivery ids', () => {
  it('are the same for the same event and endpoint, so a twice-routed event makes one delivery', () => {
    expect(deliveryIdFor('evt_1', 'whe_1')).toBe(deliveryIdFor('evt_1', 'whe_1'));
    expect(deliveryIdFor('evt_1', 'whe_1')).toMatch(/^whd_[A-Za-z0-9_-]{26}$/);
  });

  it('differ between endpoints and between events', () => {
    const ids = new Set([deliveryIdFor('evt_1', 'whe_1'), deliveryIdFor('evt_1', 'whe_2'), deliveryIdFor('evt_2', 'whe_1')]);

    expect(ids.size).toBe(3);
  });
});

describe('the per-endpoint in-flight gate', () => {
  const take = (gate: EndpointGate, id: string, now: number) => gate.tryAcquire(id, now);
  const released = (answer: GateAnswer) => ('release' in answer ? answer : undefined);

  it('lets a new endpoint have 2 sends in flight, then defers it for a second', () => {
    const gate = new EndpointGate(2, 1_000);
    const answers = [0, 1, 2].map(() => take(gate, 'whe_new', 0));

    expect(answers.map((a) => 'release' in a)).toEqual([true, true, false]);
    expect(answers[2]).toEqual({ deferSeconds: 1 });
  });

  it('lets an endpoint whose last send was answered fast use every slot', () => {
    const gate = new EndpointGate(2, 1_000);
    released(take(gate, 'whe_fast', 0))!.release({ durationMs: 20, answered: true });
    const answers = Array.from({ length: 10 }, () => take(gate, 'whe_fast', 100));

    expect(answers.every((a) => 'release' in a)).toBe(true);
    expect(gate.sending('whe_fast')).toBe(10);
  });

  it('caps a fast endpoint again once cap of its sends are stuck past the slow mark, and one that timed out', () => {
    const gate = new EndpointGate(2, 1_000);
    released(take(gate, 'whe_a', 0))!.release({ durationMs: 20, answered: true });
    for (const held of [take(gate, 'whe_a', 0), take(gate, 'whe_a', 0)]) released(held)!.sending(0);
    // A slot taken but not yet sending (its table calls are slow) is not stuck.
    take(gate, 'whe_a', 0);
    released(take(gate, 'whe_b', 0))!.release({ durationMs: 10_000, answered: false });
    take(gate, 'whe_b', 0);
    take(gate, 'whe_b', 0);

    expect('release' in take(gate, 'whe_a', 500)).toBe(true);
    expect(take(gate, 'whe_a', 999)).not.toHaveProperty('deferSeconds');
    expect(take(gate, 'whe_a', 1_000)).toEqual({ deferSeconds: 5 });
    expect(take(gate, 'whe_b', 10)).toEqual({ deferSeconds: 5 });
  });
});

