import { DynamoJobStore } from '../../functions/adapters/dynamodb/job-store';
import { DynamoCodeStore } from '../../functions/adapters/dynamodb/code-store';
import { DynamoRedemptionStore } from '../../functions/adapters/dynamodb/redemption-store';
import { DynamoBillingStore } from '../../functions/adapters/dynamodb/billing-store';
import { randomCode } from '../../functions/domain/access-codes';
import type { Principal } from '../../functions/domain/model';
import type { Clock } from '../../functions/domain/ports';
import * as admin from '../../functions/use-cases/admin';
import { generatedEvent } from '../../functions/use-cases/generation/generate-chunk';
import type { TestTable } from './dynamodb';
import { createTeamFixture, type TeamFixture } from './fixtures';
import { queuedJob } from './jobs';

/** A team with one project of the given tier (and Stripe customer, if any) and one plan. */
export const redemptionTeam = async (
  table: TestTable,
  tier: admin.TierInput = { freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' },
  stripeCustomerId?: string,
): Promise<TeamFixture & { principal: Principal }> => {
  const fixture = await createTeamFixture(table.accounts, {}, tier);
  if (stripeCustomerId) await admin.setTier({ accounts: table.accounts, clock: { now: () => new Date() } }, { projectId: fixture.projectId, tier, stripeCustomerId });
  return { ...fixture, principal: { tokenId: 'tok_test', teamId: fixture.teamId, abilities: ['project-access-code:redeem', 'project-access-code:view-any'] } };
};

/**
 * Codes of a job of `team`'s plan, stored as the generator stores them; the job is marked
 * generated (with its access_code.generated event) unless `generated` is false.
 */
export const storedCodes = async (
  table: TestTable,
  team: TeamFixture,
  options: { quantity: number; expiresAt?: Date | null; generated?: boolean },
): Promise<string[]> => {
  const jobs = new DynamoJobStore(table.db, table.tableName);
  const codes = new DynamoCodeStore(table.db, table.tableName);
  const now = new Date();
  const job = queuedJob({
    quantity: options.quantity,
    teamId: team.teamId,
    projectId: team.projectId,
    planId: team.planId,
    expiresAt: options.expiresAt ? options.expiresAt.toISOString() : null,
  });
  await jobs.createJob(job);
  await jobs.markProcessing(job.id, now);
  await codes.storeCodes({ ...job, status: 'processing' }, Array.from({ length: options.quantity }, (_, slot) => slot), randomCode, now);
  if (options.generated ?? true) {
    if (!(await jobs.markGenerated(job.id, generatedEvent(job, now), now))) throw new Error('could not mark the job generated');
  }
  return (await codes.jobCodes(job.id)).map((entry) => entry.code);
};

/** The use cases' dependencies over one test table. */
export const redemptionDeps = (table: TestTable, clock: Clock) => {
  const redemptions = new DynamoRedemptionStore(table.db, table.tableName);
  return { accounts: table.accounts, redemptions, billing: new DynamoBillingStore(table.db, table.tableName), clock };
};
