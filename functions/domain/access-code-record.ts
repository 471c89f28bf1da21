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
