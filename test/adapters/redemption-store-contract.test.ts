import type { Tier } from '../../functions/domain/cost';
import type { RedemptionCommitResult, RedemptionRequest } from '../../functions/domain/ports';
import {
  decideRedemption,
  newRedemptionIds,
  redemptionCommit,
  type AllotmentPhase,
  type CodeForRedemption,
  type RedemptionIds,
} from '../../functions/domain/redemption';
import type { CodeOwner } from '../support/redemption-doubles';
import { redemptionImplementations, type RedemptionStoreHarness } from '../support/redemption-store-harness';

// One contract, two implementations of the redemption store: InMemoryRedemptionStore and
// DynamoRedemptionStore on DynamoDB Local (its client raising AWS's conflicts). A case that
// passes on one and fails on the other is a double that drifted. The cases share one store,
// each with a team, project and plan of its own (the allotment is per project and period).

const { implementations, dropTables } = redemptionImplementations();
afterAll(dropTables);

const T = new Date('2026-06-10T09:00:00.000Z');
const PERIOD = '2026-06';
const at = (ms: number) => new Date(T.getTime() + ms);
const TIER: Tier = { freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' };

/** A plan of its own team and project, with the project's tier and Stripe customer. */
interface Owner extends CodeOwner {
  plan: RedemptionRequest['plan'];
  project: RedemptionRequest['project'];
}
let counter = 0;
const anOwner = (tier: Tier = TIER, stripeCustomerId: string | null = null): Owner => {
  const n = `${Date.now()}_${++counter}`;
  const [teamId, projectId, planId] = [`tea_rdm_${n}`, `prj_rdm_${n}`, `pln_rdm_${n}`];
  return { teamId, projectId, planId, plan: { id: planId, teamId, projectId }, project: { id: projectId, tier, stripeCustomerId } };
};

describe.each(implementations)('the redemption store (%s)', (_name, open) => {
  let h: RedemptionStoreHarness;
  beforeAll(async () => {
    h = await open();
  });

  /** The code as the use case reads it before it commits. */
  const read = async (code: string): Promise<CodeForRedemption> => {
    const found = await h.store.findCode(code);
    if (!found) throw new Error(`${code} is not stored`);
    return found;
  };
  /** A commit of `code` (as read before) by `subscriberId` for `owner`'s plan at `now`. */
  const redeem = (code: CodeForRedemption, owner: Owner, subscriberId: string, now = T, ids: RedemptionIds = newRedemptionIds()): Promise<RedemptionCommitResult> =>
    h.store.redeem({ code, subscriberId, plan: owner.plan, project: owner.project, ids, clock: { now: () => now } });
  /** The redemption `redemptionCommit` makes for this commit in `phase`. */
  const expected = (code: string, owner: Owner, subscriberId: string, ids: RedemptionIds, phase: AllotmentPhase, now = T) =>
    redemptionCommit({ code, subscriberId, plan: owner.plan, project: owner.project }, ids, phase, now);
  const redeemed = (result: RedemptionCommitResult) => {
    if (result.outcome !== 'redeemed') throw new Error(`expected a redemption, got ${result.outcome}`);
    return result.redemption;
  };

  test('findCode: an unknown code is undefined; a stored one shows its plan, project, team, job, slot, state and expiry, unredeemed; a batch is generated only once its job is marked so', async () => {
    const owner = anOwner();
    const expiresAt = at(86_400_000);
    const done = await h.seed(owner, { quantity: 2, expiresAt });
    const generating = await h.seed(owner, { quantity: 1, generated: false });

    expect(await h.store.findCode('NOSUCHCODE00')).toBeUndefined();
    expect(await h.store.findCode(done.codes[1]!)).toEqual({
      code: done.codes[1],
      planId: owner.planId,
      projectId: owner.projectId,
      teamId: owner.teamId,
      jobId: done.jobId,
      slot: 1,
      status: 'active',
      expiresAt: expiresAt.toISOString(),
      redemption: null,
    });
    expect(await read(generating.codes[0]!)).toMatchObject({ jobId: generating.jobId, slot: 0, expiresAt: null, status: 'active' });
    expect(await Promise.all([done.jobId, generating.jobId, 'job_never_created'].map((job) => h.store.isBatchGenerated(job)))).toEqual([true, false, false]);
  });

  test('redeems an active code of the plan’s team as redemptionCommit makes it (free within the allotment): the code then shows its redemption, the subscription reads back, one event, one allotment unit, no usage record', async () => {
    const owner = anOwner();
    const { codes } = await h.seed(owner, { quantity: 1 });
    const before = await read(codes[0]!);
    const ids = newRedemptionIds();
    const commit = expected(codes[0]!, owner, 'usr_first', ids, 'free');

    expect(await redeem(before, owner, 'usr_first', T, ids)).toEqual({
      outcome: 'redeemed',
      redemption: { id: ids.redemptionId, code: codes[0], projectId: owner.projectId, teamId: owner.teamId, billed: false, answer: commit.answer },
      attempts: expect.any(Number),
    });
    expect(await h.store.findCode(codes[0]!)).toEqual({
      ...before,
      status: 'redeemed',
      redemption: { redemptionId: ids.redemptionId, subscriberId: 'usr_first', answer: commit.answer },
    });
    expect(await h.store.getSubscription(ids.subscriptionId)).toEqual({
      id: ids.subscriptionId,
      planId: owner.planId,
      projectId: owner.projectId,
      teamId: owner.teamId,
      subscriberId: 'usr_first',
      redemptionId: ids.redemptionId,
      answer: commit.answer,
    });
    expect(await h.store.getSubscription('sub_never_created')).toBeUndefined();
    expect(await h.redeemedEvents(owner.projectId)).toEqual([commit.event]);
    expect(await h.allotmentUsed(owner.projectId, PERIOD)).toBe(1);
    expect(await h.billing.records([ids.redemptionId])).toEqual([]);
  });

  test('a code is redeemed once: again by another subscriber or by the same request, it is refused and nothing more is written; the first subscriber is answered the first answer again; of three racing subscribers one wins', async () => {
    const owner = anOwner();
    const { codes } = await h.seed(owner, { quantity: 2 });
    const before = await read(codes[0]!);
    const ids = newRedemptionIds();
    const first = redeemed(await redeem(before, owner, 'usr_a', T, ids));

    const other = newRedemptionIds();
    expect(await redeem(before, owner, 'usr_b', at(1), other)).toEqual({ outcome: 'code-changed' });
    expect(await redeem(before, owner, 'usr_a', T, ids)).toEqual({ outcome: 'code-changed' });

    const after = await read(codes[0]!);
    expect(after.redemption).toEqual({ redemptionId: ids.redemptionId, subscriberId: 'usr_a', answer: first.answer });
    expect(decideRedemption(after, { teamId: owner.teamId, subscriberId: 'usr_a' }, at(2))).toEqual({ outcome: 'replayed', answer: first.answer });
    expect(decideRedemption(after, { teamId: owner.teamId, subscriberId: 'usr_b' }, at(2))).toEqual({ outcome: 'already-redeemed' });
    expect(await h.store.getSubscription(other.subscriptionId)).toBeUndefined();

    const raced = await read(codes[1]!);
    const results = await Promise.all(['usr_x', 'usr_y', 'usr_z'].map((subscriber) => redeem(raced, owner, subscriber)));
    expect(results.map((result) => result.outcome).sort()).toEqual(['code-changed', 'code-changed', 'redeemed']);
    const winner = redeemed(results.find((result) => result.outcome === 'redeemed')!);
    expect((await read(codes[1]!)).redemption?.redemptionId).toBe(winner.id);

    expect((await h.redeemedEvents(owner.projectId)).map((event) => (event.data as { subscription_id: string }).subscription_id).sort()).toEqual(
      [ids.subscriptionId, winner.answer.subscription_id].sort(),
    );
    expect(await h.allotmentUsed(owner.projectId, PERIOD)).toBe(2);
  });

  test('an expiring code is redeemed up to the millisecond before its expiry; from the expiry instant on it is refused and nothing is written', async () => {
    const owner = anOwner();
    const expiresAt = at(60_000);
    const { codes } = await h.seed(owner, { quantity: 2, expiresAt });
    const [early, late] = await Promise.all(codes.map(read));

    expect((await redeem(early!, owner, 'usr_early', new Date(expiresAt.getTime() - 1))).outcome).toBe('redeemed');
    expect(await redeem(late!, owner, 'usr_late', expiresAt)).toEqual({ outcome: 'code-changed' });
    expect(await redeem(late!, owner, 'usr_late', at(3_600_000))).toEqual({ outcome: 'code-changed' });

    expect(await h.store.findCode(late!.code)).toEqual(late);
    expect(await h.redeemedEvents(owner.projectId)).toHaveLength(1);
    expect(await h.allotmentUsed(owner.projectId, PERIOD)).toBe(1);
  });

  test('a code is redeemed only for its own plan and team: for another team’s plan, another plan of its team, or its plan claimed by another team, it is refused and nothing is written', async () => {
    const owner = anOwner();
    const stranger = anOwner();
    const { codes } = await h.seed(owner, { quantity: 1 });
    const code = await read(codes[0]!);
    const otherPlan: Owner = { ...owner, planId: `${owner.planId}_other`, plan: { ...owner.plan, id: `${owner.planId}_other` } };

    expect(await redeem(code, stranger, 'usr_1')).toEqual({ outcome: 'code-changed' });
    expect(await redeem(code, otherPlan, 'usr_1')).toEqual({ outcome: 'code-changed' });
    // Its plan's id, as if of another team: the team is checked on its own.
    expect(await redeem(code, { ...stranger, plan: { ...owner.plan, teamId: stranger.teamId } }, 'usr_1')).toEqual({ outcome: 'code-changed' });

    expect(await h.store.findCode(code.code)).toEqual(code);
    expect([...(await h.redeemedEvents(owner.projectId)), ...(await h.redeemedEvents(stranger.projectId))]).toEqual([]);
    expect(await h.allotmentUsed(stranger.projectId, PERIOD)).toBe(0);
  });

  test('exactly the free allotment is free in a period, then each redemption is billed: queued for the project’s Stripe customer, pending without one, no_charge at a price of 0; the next period has its allotment again', async () => {
    const owner = anOwner({ freeAllotment: 2, unitPriceMinor: 3, currency: 'USD' }, 'cus_rdm_contract');
    const { codes } = await h.seed(owner, { quantity: 6 });
    const inJune = codes.slice(0, 4);
    const idsOf = inJune.map(() => newRedemptionIds());
    const results = [];
    for (const [i, code] of inJune.entries()) results.push(redeemed(await redeem(await read(code), owner, `usr_${i}`, T, idsOf[i])));

    const phases: AllotmentPhase[] = ['free', 'free', 'beyond', 'beyond'];
    expect(results.map((r) => r.answer)).toEqual(inJune.map((code, i) => expected(code, owner, `usr_${i}`, idsOf[i]!, phases[i]!).answer));
    expect(results.map((r) => r.billed)).toEqual([false, false, true, true]);

    const withoutCustomer: Owner = { ...owner, project: { ...owner.project, stripeCustomerId: null } };
    const pending = redeemed(await redeem(await read(codes[4]!), withoutCustomer, 'usr_pending', at(1)));
    const july = new Date('2026-07-01T00:00:00.000Z');
    const next = redeemed(await redeem(await read(codes[5]!), owner, 'usr_july', july));
    expect([pending.billed, next.billed, next.answer.billing.period]).toEqual([true, false, '2026-07']);

    const record = (redemptionId: string, stripeCustomerId: string | null, state: string, instant: Date) => ({
      redemptionId,
      projectId: owner.projectId,
      period: PERIOD,
      stripeCustomerId,
      redeemedAt: instant.toISOString(),
      state,
      windowId: null,
      reason: null,
      updatedAt: instant.toISOString(),
    });
    const ids = [...results, pending, next].map((r) => r.id);
    const records = await h.billing.records(ids);
    expect([...records].sort((a, b) => ids.indexOf(a.redemptionId) - ids.indexOf(b.redemptionId))).toEqual([
      record(results[2]!.id, 'cus_rdm_contract', 'queued', T),
      record(results[3]!.id, 'cus_rdm_contract', 'queued', T),
      record(pending.id, null, 'pending', at(1)),
    ]);
    expect([await h.allotmentUsed(owner.projectId, PERIOD), await h.allotmentUsed(owner.projectId, '2026-07')]).toEqual([2, 1]);

    const unpriced = anOwner({ freeAllotment: 0, unitPriceMinor: 0, currency: 'USD' }, 'cus_rdm_unpriced');
    const [free] = (await h.seed(unpriced, { quantity: 1 })).codes;
    const uncharged = redeemed(await redeem(await read(free!), unpriced, 'usr_unpriced'));
    expect([uncharged.billed, uncharged.answer.billing.overage]).toEqual([false, false]);
    expect((await h.billing.records([uncharged.id])).map((r) => [r.state, r.stripeCustomerId])).toEqual([['no_charge', null]]);
  });

  test('12 different codes redeemed at once with a free allotment of 10: all 12 commit, exactly 10 free and 2 billed, each with one subscription, one event and, when billed, one usage record', async () => {
    const owner = anOwner(TIER, 'cus_rdm_race');
    const { codes } = await h.seed(owner, { quantity: 12 });
    const read12 = await Promise.all(codes.map(read));

    const results = (await Promise.all(read12.map((code, i) => redeem(code, owner, `usr_${i}`)))).map(redeemed);

    const billed = results.filter((r) => r.billed);
    expect(billed).toHaveLength(2);
    expect(results.filter((r) => !r.billed && !r.answer.billing.overage)).toHaveLength(10);
    expect(await h.allotmentUsed(owner.projectId, PERIOD)).toBe(10);
    const records = await h.billing.records(results.map((r) => r.id));
    expect(records.map((r) => r.redemptionId).sort()).toEqual(billed.map((r) => r.id).sort());
    expect(records.map((r) => r.state)).toEqual(['queued', 'queued']);
    const subscriptions = await Promise.all(results.map((r) => h.store.getSubscription(r.answer.subscription_id)));
    expect(subscriptions.map((s) => s?.redemptionId)).toEqual(results.map((r) => r.id));
    const events = await h.redeemedEvents(owner.projectId);
    expect(events.map((event) => (event.data as { subscription_id: string }).subscription_id).sort()).toEqual(results.map((r) => r.answer.subscription_id).sort());
    expect((await Promise.all(codes.map(read))).map((code) => code.status)).toEqual(codes.map(() => 'redeemed'));
  });
});
