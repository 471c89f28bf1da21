import { displayCode } from '../../domain/access-codes';
import { toCsv } from '../../domain/csv';
import type { Job } from '../../domain/jobs';

/** The CSV a file job delivers: one row per code. */
export const codesCsv = (job: Job, codes: ReadonlyArray<{ code: string }>): string =>
  toCsv(
    ['code', 'plan_id', 'batch_id', 'expires_at'],
    codes.map(({ code }) => [displayCode(code), job.planId, job.batchId, job.expiresAt ?? '']),
  );

/** The document a file job sends: the CSV, named after the batch, with a caption that says what it holds. */
export const codesDocument = (job: Job, codes: ReadonlyArray<{ code: string }>) => ({
  filename: `access-codes-${job.batchId}.csv`,
  content: codesCsv(job, codes),
  caption:
    `${job.quantity} access code${job.quantity === 1 ? '' : 's'} for plan "${job.planName}" (batch ${job.batchId}), ` +
    (job.expiresAt ? `valid until ${job.expiresAt.slice(0, 16).replace('T', ' ')} UTC.` : 'with no expiry.'),
});

/** The message of one code of a messages job: its place in the batch, the plan, the code. */
export const codeMessage = (job: Job, slot: number, code: string): string =>
  `Access code ${slot + 1}/${job.quantity} for "${job.planName}": ${displayCode(code)}`;
