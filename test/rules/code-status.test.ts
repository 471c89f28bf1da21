import fc from 'fast-check';
import { codeStatusAt, expiryOrder, statusParts, type AccessCodeStatus } from '../../functions/domain/access-code-record';
import { expiryBound, indexKeys } from '../../functions/contracts/table';

const STATUSES: AccessCodeStatus[] = ['active', 'redeemed', 'expired'];
const instant = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true });

/** Whether a stored code falls in the index ranges `statusParts` names, judged on its gsi2 keys. */
const inParts = (code: { status: AccessCodeStatus; expiresAt: string | null }, status: AccessCodeStatus, now: Date) => {
  const keys = indexKeys.codeByStatus('pln_x', code.status, 'mjb_x', 42, expiryOrder(code.expiresAt));
  return statusParts(status, now).some((part) => {
    if (keys.gsi2pk !== indexKeys.codeByStatus('pln_x', part.stored, 'mjb_x', 42, '').gsi2pk) return false;
    if (part.stored !== 'active') return true;
    return 'after' in part.expiry ? keys.gsi2sk > expiryBound(part.expiry.after) : keys.gsi2sk <= expiryBound(part.expiry.atMost);
  });
};

describe('the status a code shows', () => {
  test('an active code is expired from its expiry instant on, and never without one', () => {
    const code = { status: 'active' as const, expiresAt: '2026-12-01T00:00:00.000Z' };
    expect(codeStatusAt(code, new Date('2026-11-30T23:59:59.999Z'))).toBe('active');
    expect(codeStatusAt(code, new Date('2026-12-01T00:00:00.000Z'))).toBe('expired');
    expect(codeStatusAt({ status: 'active', expiresAt: null }, new Date('2999-12-31T23:59:59.999Z'))).toBe('active');
    expect(codeStatusAt({ status: 'redeemed', expiresAt: '2000-01-01T00:00:00.000Z' }, new Date())).toBe('redeemed');
  });

  test('the listing index ranges of a status hold exactly the codes that show it (the same rule, as key conditions)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STATUSES), fc.option(instant, { nil: null }), instant, (stored, expiry, now) => {
        const code = { status: stored, expiresAt: expiry?.toISOString() ?? null };
        for (const status of STATUSES) expect(inParts(code, status, now)).toBe(codeStatusAt(code, now) === status);
      }),
      { numRuns: 2000 },
    );
    // The boundary itself, which random instants rarely hit.
    const at = new Date('2026-12-01T00:00:00.000Z');
    const code = { status: 'active' as const, expiresAt: at.toISOString() };
    expect([inParts(code, 'active', at), inParts(code, 'expired', at)]).toEqual([false, true]);
  });
});
