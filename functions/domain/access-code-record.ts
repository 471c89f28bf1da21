/** Stored state of one access code. */
export type AccessCodeStatus = 'active' | 'redeemed' | 'expired';

/** One stored access code, as list_access_codes shows it. */
export interface AccessCodeRecord {
  code: string;
  planId: string;
  projectId: string;
  jobId: string;
  batchId: string;
  slot: number;
  status: AccessCodeStatus;
  expiresAt: string | null;
  redeemedAt: string | null;
  createdAt: string;
}

/**
 * Where a code without expiry sorts among expiry instants: after every real one (expiry
 * instants are canonical ISO strings, `Date#toISOString`, so they sort as they fall in time).
 */
export const NO_EXPIRY = '9999-12-31T23:59:59.999Z';

/** A code's expiry as an instant that sorts in time order, `NO_EXPIRY` when it never expires. */
export const expiryOrder = (expiresAt: string | null): string => expiresAt ?? NO_EXPIRY;

/**
 * The one rule of what a status means at `now`: an active code whose expiry has passed
 * (`expires_at <= now`) is expired, whether or not the expiry sweep has marked it yet.
 */
export const codeStatusAt = (code: Pick<AccessCodeRecord, 'status' | 'expiresAt'>, now: Date): AccessCodeStatus =>
  code.status === 'active' && expiryOrder(code.expiresAt) <= now.toISOString() ? 'expired' : code.status;

/**
 * Which stored codes show a status at `now`, as parts to read in order: a stored status, and
 * for active codes the side of `now` their expiry falls on. The same rule as `codeStatusAt`,
 * in the form a store can turn into key conditions (stored status, then expiry range).
 */
export type StatusPart =
  | { stored: 'redeemed' | 'expired' }
  | { stored: 'active'; expiry: { after: string } | { atMost: string } };

/** The parts of the codes showing `status` at `now`, in listing order. */
export const statusParts = (status: AccessCodeStatus, now: Date): StatusPart[] => {
  const instant = now.toISOString();
  switch (status) {
    case 'active':
      return [{ stored: 'active', expiry: { after: instant } }];
    case 'redeemed':
      return [{ stored: 'redeemed' }];
    case 'expired':
      return [{ stored: 'expired' }, { stored: 'active', expiry: { atMost: instant } }];
  }
};
