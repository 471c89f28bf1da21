import { codeStatusAt } from '../../functions/domain/access-code-record';
import { randomCode } from '../../functions/domain/access-codes';
import { billingPeriodOf } from '../../functions/domain/billing-period';
import type { CodeStore, JobStore, RedemptionCommitResult, RedemptionRequest, RedemptionStore } from '../../functions/domain/ports';
import {
  redemptionCommit,
  storedAnswer,
  type AllotmentPhase,
  type CodeForRedemption,
  type RedemptionAnswer,
  type Subscription,
} from '../../functions/domain/redemption';
import { generatedEvent } from '../../functions/use-cases/generation/generate-chunk';
import type { InMemoryAccountStore } from './account-doubles';
import { InMemoryBillingStore } from './billing-doubles';
import { JobCodeTable, inMemoryJobAndCodeStores } from './job-code-doubles';
import { queuedJob } from './jobs';

/** What a redeemed code holds besides its status: the redemption that took it and its answer. */
interface StoredRedemption {
  redemptionId: string;
  subscriberId: string;
  answer: RedemptionAnswer;
}

/**
 * The redemption store port in memory, holding to what DynamoRedemptionStore does. Codes and
 * jobs are those of a `JobCodeTable` (the job and code doubles store them; a code's team is its
 * job's). A redemption commits all or nothing, conditioned on the code being active, of the
 * request's plan and team, and not expired at the commit's time (`codeStatusAt`: expired from
 * its expiry instant on); otherwise it answers `code-changed` and writes nothing, a second
 * redeem of the same request included. What the commit holds is `redemptionCommit`'s: the code
 * with its redemption and answer, one unit of the period's free allotment while the first
 * `freeAllotment` units last (else the usage record, committed to the billing double), the
 * subscription and the access_code.redeemed event (the table's outbox).
 *
 * Left out: AWS's conflicts, throttles and the retry budget (a commit here is one synchronous
 * step, so `attempts` is 1), the allotment's shards and the warm function's memory of a used-up
 * period (a tier changed within a period is read anew here), and the commit's ULID: the billing
 * double dates a usage record by the commit's instant, DynamoDB's due index by the redemption
 * id. test/adapters/redemption-store-contract.test.ts runs the same cases over both.
 */
export class InMemoryRedemptionStore implements RedemptionStore {
  readonly table: JobCodeTable;
  /** Usage records of redemptions beyond the allotment. */
  readonly billing: InMemoryBillingStore;
  /** Where a free unit taken is also counted, as the account store reads the allotment's shards. */
  private readonly accounts: Pick<InMemoryAccountStore, 'useAllotment'> | undefined;
  private readonly redemptions = new Map<string, StoredRedemption>();
  private readonly subscriptions = new Map<string, Subscription>();
  /** Free units taken, by `projectId#period`. */
  private readonly allotmentTaken = new Map<string, number>();

  constructor(options: { table?: JobCodeTable; billing?: InMemoryBillingStore; accounts?: Pick<InMemoryAccountStore, 'useAllotment'> } = {}) {
    this.table = options.table ?? new JobCodeTable();
    this.billing = options.billing ?? new InMemoryBillingStore();
    this.accounts = options.accounts;
  }

  async findCode(code: string): Promise<CodeForRedemption | undefined> {
    const stored = this.table.codes.get(code);
    if (!stored) return undefined;
    const redemption = stored.status === 'redeemed' ? this.redemptions.get(code) : undefined;
    return {
      code: stored.code,
      planId: stored.planId,
      projectId: stored.projectId,
      teamId: this.teamOf(stored.jobId),
      jobId: stored.jobId,
      slot: stored.slot,
      status: stored.status,
      expiresAt: stored.expiresAt,
      redemption: redemption ? { redemptionId: redemption.redemptionId, subscriberId: redemption.subscriberId, answer: storedAnswer(redemption.answer) } : null,
    };
  }

  async isBatchGenerated(jobId: string): Promise<boolean> {
    return typeof this.table.jobs.get(jobId)?.job.generatedAt === 'string';
  }

  async redeem(request: RedemptionRequest): Promise<RedemptionCommitResult> {
    // DynamoDB reads the period's used-up flag before it commits: other redemptions commit meanwhile.
    await Promise.resolve();
    const now = request.clock.now();
    const { code, plan, project, ids, subscriberId } = request;
    const stored = this.table.codes.get(code.code);
    const redeemable =
      stored?.status === 'active' && this.teamOf(stored.jobId) === plan.teamId && stored.planId === plan.id && codeStatusAt(stored, now) !== 'expired';
    if (!redeemable) return { outcome: 'code-changed' };
    if (this.subscriptions.has(ids.subscriptionId)) throw new Error(`subscription ${ids.subscriptionId} exists: ids are drawn once per request`);

    const period = billingPeriodOf(now);
    const allotmentKey = `${project.id}#${period}`;
    const taken = this.allotmentTaken.get(allotmentKey) ?? 0;
    const phase: AllotmentPhase = taken < project.tier.freeAllotment ? 'free' : 'beyond';
    const commit = redemptionCommit({ code: code.code, subscriberId, plan, project }, ids, phase, now);
    const at = commit.answer.redeemed_at;

    stored.status = 'redeemed';
    stored.redeemedAt = at;
    this.redemptions.set(code.code, { redemptionId: ids.redemptionId, subscriberId, answer: structuredClone(commit.answer) });
    if (phase === 'free') {
      this.allotmentTaken.set(allotmentKey, taken + 1);
      this.accounts?.useAllotment(project.id, period, 1);
    }
    this.subscriptions.set(ids.subscriptionId, {
      id: ids.subscriptionId,
      planId: plan.id,
      projectId: project.id,
      teamId: plan.teamId,
      subscriberId,
      redemptionId: ids.redemptionId,
      answer: structuredClone(commit.answer),
    });
    if (commit.usage) {
      this.billing.commit({ redemptionId: ids.redemptionId, projectId: project.id, period, stripeCustomerId: commit.usage.stripeCustomerId, state: commit.usage.state, at });
    }
    this.table.events.push(structuredClone(commit.event));
    return {
      outcome: 'redeemed',
      redemption: { id: ids.redemptionId, code: code.code, projectId: project.id, teamId: plan.teamId, billed: commit.billed, answer: commit.answer },
      attempts: 1,
    };
  }

  async getSubscription(subscriptionId: string): Promise<Subscription | undefined> {
    const subscription = this.subscriptions.get(subscriptionId);
    return subscription && { ...structuredClone(subscription), answer: storedAnswer(subscription.answer) };
  }

  private teamOf(jobId: string): string {
    const job = this.table.jobs.get(jobId)?.job;
    if (!job) throw new Error(`the job ${jobId} of a stored code is missing`);
    return job.teamId;
  }
}

/** The in-memory stores redemption runs over, sharing one table: jobs, codes, billing records and redemptions. */
export const inMemoryRedemptionStores = (accounts?: Pick<InMemoryAccountStore, 'useAllotment'>) => {
  const { table, jobs, codes } = inMemoryJobAndCodeStores();
  const billing = new InMemoryBillingStore();
  return { table, jobs, codes, billing, redemptions: new InMemoryRedemptionStore({ table, billing, accounts }) };
};

/** The plan codes are generated for, with its team and project. */
export interface CodeOwner {
  teamId: string;
  projectId: string;
  planId: string;
}

/**
 * Codes of a new job of `owner`'s plan, stored through the job and code ports as generation
 * stores them (at `now`); the job is marked generated unless `generated` is false.
 */
export const seedCodes = async (
  stores: { jobs: JobStore; codes: CodeStore },
  owner: CodeOwner,
  options: { quantity: number; expiresAt?: Date | null; generated?: boolean; now?: Date },
): Promise<{ jobId: string; codes: string[] }> => {
  const now = options.now ?? new Date();
  const job = queuedJob({ quantity: options.quantity, ...owner, expiresAt: options.expiresAt ? options.expiresAt.toISOString() : null });
  await stores.jobs.createJob(job);
  await stores.jobs.markProcessing(job.id, now);
  await stores.codes.storeCodes({ ...job, status: 'processing' }, Array.from({ length: options.quantity }, (_, slot) => slot), randomCode, now);
  if ((options.generated ?? true) && !(await stores.jobs.markGenerated(job.id, generatedEvent(job, now), now))) throw new Error('could not mark the job generated');
  return { jobId: job.id, codes: (await stores.codes.jobCodes(job.id)).map((entry) => entry.code) };
};
