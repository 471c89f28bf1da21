import { BILLING_POLICY, BillingRejectedError, BillingUnavailableError, type BillingRecord, type MeteredUsage } from '../../functions/domain/billing';
import type { BillingMessage } from '../../functions/contracts/queue-messages';
import type { UsageBiller } from '../../functions/domain/ports';
import { billMessage, claimWindows, replayParked, sweepBilling } from '../../functions/use-cases/bill-redemption';
import { InMemoryAccountStore } from '../support/account-doubles';
import { InMemoryBillingStore, committed } from '../support/billing-doubles';
import { FakeClock } from '../support/clock';

// Billing over the in-memory billing store (its contract suite runs the same cases over
// DynamoDB: test/adapters/billing-store.test.ts) and a biller that keeps what Stripe took. The
// pipeline test (test/pipeline/bill-redemption.test.ts) runs the whole path over DynamoDB Local
// and a fake Stripe over HTTP.

const T0 = new Date('2026-06-10T09:00:00.000Z');
const PERIOD = '2026-06';
const SECOND = 1_000;

/** Stripe's meter events as a biller: each call taken (or refused with the next error queued), a known identifier a duplicate. */
class RecordingBiller implements UsageBiller {
  readonly taken: MeteredUsage[] = [];
  calls = 0;
  private readonly refusals: Error[] = [];

  refuseNext(...errors: Error[]): void {
    this.refusals.push(...errors);
  }

  async reportUsage(usage: MeteredUsage): Promise<void> {
    this.calls++;
    const refusal = this.refusals.shift();
    if (refusal) throw refusal;
    if (!this.taken.some((event) => event.identifier === usage.identifier)) this.taken.push(usage);
  }
}

const setUp = () => {
  const billing = new InMemoryBillingStore();
  const biller = new RecordingBiller();
  const clock = new FakeClock(T0);
  const accounts = new InMemoryAccountStore();
  const sent: BillingMessage[] = [];
  const deps = { billing, biller, clock, policy: BILLING_POLICY };
  const sweepDeps = { ...deps, accounts, queue: { send: async (messages: readonly BillingMessage[]) => void sent.push(...messages) } };
  /** A billed redemption committed `secondsAgo` before the clock's now. */
  const commit = (projectId: string, customer: string | null, secondsAgo = 0) =>
    billing.commit(committed({ projectId, customer, at: new Date(clock.now().getTime() - secondsAgo * SECOND) }));
  const addProject = (id: string, stripeCustomerId: string | null) =>
    accounts.putProject({ id, teamId: 'tea_1', name: 'P', telegramChatId: null, tier: { freeAllotment: 0, unitPriceMinor: 3, currency: 'USD' }, stripeCustomerId, createdAt: T0.toISOString() });
  const states = async (records: readonly BillingRecord[]) => (await billing.records(records.map((record) => record.redemptionId))).map((record) => record.state);
  return { billing, biller, clock, deps, sweepDeps, sent, commit, addProject, states };
};

const recordsMessage = (customer: string, records: readonly BillingRecord[]): BillingMessage => ({
  kind: 'records',
  stripe_customer_id: customer,
  period: PERIOD,
  redemption_ids: records.map((record) => record.redemptionId),
});

describe('billing one message', () => {
  test('claims the message’s queued records of its customer into one window and bills it as one meter event of their count at the latest redemption; the same message again bills nothing', async () => {
    const { biller, clock, deps, commit, states } = setUp();
    const mine = [commit('prj_a', 'cus_a', 30), commit('prj_a', 'cus_a', 20), commit('prj_a', 'cus_a', 10)];
    const others = [commit('prj_a', null, 5), commit('prj_b', 'cus_b', 5)];
    const message = recordsMessage('cus_a', [...mine, ...others]);

    const first = await billMessage(deps, message);
    clock.advance(SECOND);
    const again = await billMessage(deps, message);

    expect(first).toEqual({ meterEvents: 1, billedUnits: 3, parked: 0, failures: 0 });
    expect(again).toEqual({ meterEvents: 0, billedUnits: 0, parked: 0, failures: 0 });
    expect(biller.taken).toEqual([{ identifier: expect.stringMatching(/^bwn_/), stripeCustomerId: 'cus_a', timestamp: new Date(mine[2]!.redeemedAt), value: 3 }]);
    expect(biller.calls).toBe(1);
    expect(await states([...mine, ...others])).toEqual(['billed', 'billed', 'billed', 'pending', 'queued']);
  });

  test('a claimer that died between its claim and its send: the message redelivered sends the window it claimed, under the same identifier', async () => {
    const { billing, biller, deps, commit, states } = setUp();
    const records = [commit('prj_a', 'cus_a'), commit('prj_a', 'cus_a')];
    const [claimed] = await claimWindows(deps, { customer: 'cus_a', period: PERIOD, redemptionIds: records.map((record) => record.redemptionId) });

    expect(await billMessage(deps, recordsMessage('cus_a', records))).toMatchObject({ meterEvents: 1, billedUnits: 2 });

    expect(biller.taken.map((event) => event.identifier)).toEqual([claimed!.id]);
    expect((await billing.window(claimed!.id))?.state).toBe('billed');
    expect(await states(records)).toEqual(['billed', 'billed']);
  });

  test('Stripe unavailable: the try is counted and the window waits out the backoff; the sweep then queues it and its window message bills it under the same identifier', async () => {
    const { billing, biller, clock, deps, sweepDeps, sent, commit, states } = setUp();
    const records = [commit('prj_a', 'cus_a')];
    biller.refuseNext(new BillingUnavailableError('Stripe answered 503', 503));

    const failed = await billMessage(deps, recordsMessage('cus_a', records));
    const [claimed] = await billing.records([records[0]!.redemptionId]);
    const window = await billing.window(claimed!.windowId!);

    expect(failed).toEqual({ meterEvents: 0, billedUnits: 0, parked: 0, failures: 1, retry: { delayMs: BILLING_POLICY.retryBaseMs, attempts: 1 } });
    expect(window).toMatchObject({ state: 'sending', attempts: 1, lastError: 'Stripe answered 503', firstFailureAt: T0.toISOString() });
    clock.advance(BILLING_POLICY.retryBaseMs - 1);
    expect(await sweepBilling(sweepDeps)).toMatchObject({ windowsQueued: 0 });
    clock.advance(1);
    expect(await sweepBilling(sweepDeps)).toMatchObject({ windowsQueued: 1 });
    expect(sent).toEqual([{ kind: 'window', stripe_customer_id: 'cus_a', window_id: window!.id, attempts: 1, queued_at: clock.now().toISOString() }]);

    expect(await billMessage(deps, sent[0]!)).toMatchObject({ meterEvents: 1, billedUnits: 1 });
    expect(biller.taken.map((event) => event.identifier)).toEqual([window!.id]);
    expect(await states(records)).toEqual(['billed']);
  });

  test('Stripe refuses the payload: the window and its records are parked; a replay queues them for the project’s customer once, and they are billed in a new window', async () => {
    const { billing, biller, clock, deps, sweepDeps, commit, addProject, states } = setUp();
    await addProject('prj_a', 'cus_new');
    const records = [commit('prj_a', 'cus_old'), commit('prj_a', 'cus_old')];
    biller.refuseNext(new BillingRejectedError('No such customer: cus_old', 400, 'resource_missing'));

    expect(await billMessage(deps, recordsMessage('cus_old', records))).toEqual({ meterEvents: 0, billedUnits: 0, parked: 1, failures: 0 });
    expect(await states(records)).toEqual(['parked', 'parked']);
    expect((await billing.parkedRecords('prj_a')).map((record) => record.reason)).toEqual(['No such customer: cus_old', 'No such customer: cus_old']);

    clock.advance(60 * SECOND);
    const replays = await Promise.all([replayParked(sweepDeps, { projectId: 'prj_a' }), replayParked(sweepDeps, {})]);
    expect(replays[0].replayed + replays[1].replayed).toBe(2);
    expect(await replayParked(sweepDeps, {})).toEqual({ replayed: 0, without_customer: 0 });

    expect(await billMessage(deps, recordsMessage('cus_new', records))).toMatchObject({ meterEvents: 1, billedUnits: 2 });
    expect(biller.taken).toEqual([expect.objectContaining({ stripeCustomerId: 'cus_new', value: 2 })]);
    expect(await states(records)).toEqual(['billed', 'billed']);
  });
});

describe('the billing sweep', () => {
  test('takes what the stream path left once the grace is over (the instant included): queued records claimed and queued, pending ones queued for a customer linked since or left to set-tier; a claim whose claimer died is queued again once its lease is over', async () => {
    const { billing, clock, deps, sweepDeps, sent, commit, addProject, states } = setUp();
    await addProject('prj_linked', 'cus_linked');
    await addProject('prj_unlinked', null);
    const lost = commit('prj_a', 'cus_a');
    const [pendingLinked, pendingUnlinked] = [commit('prj_linked', null), commit('prj_unlinked', null)];
    const [abandoned] = await claimWindows(deps, { customer: 'cus_a', period: PERIOD, redemptionIds: [commit('prj_a', 'cus_a').redemptionId] });

    clock.advance(BILLING_POLICY.sweepGraceMs - 1);
    expect(await sweepBilling(sweepDeps)).toEqual({ windowsQueued: 0, recordsClaimed: 0, pendingRequeued: 0, pendingSettled: 0, windowsOverdue: 0 });
    clock.advance(1);
    expect(await sweepBilling(sweepDeps)).toEqual({ windowsQueued: 1, recordsClaimed: 1, pendingRequeued: 1, pendingSettled: 1, windowsOverdue: 0 });

    const [lostRecord, linked, unlinked] = await billing.records([lost.redemptionId, pendingLinked.redemptionId, pendingUnlinked.redemptionId]);
    expect(sent).toEqual([expect.objectContaining({ kind: 'window', window_id: lostRecord!.windowId })]);
    expect(linked).toMatchObject({ state: 'queued', stripeCustomerId: 'cus_linked' });
    expect(unlinked).toMatchObject({ state: 'pending' });
    expect(await billing.pendingForProject('prj_unlinked')).toHaveLength(1);

    // The lease of the abandoned claim ends at T0 + claimLeaseMs; the record queued for the
    // linked customer is past the grace by then too.
    sent.length = 0;
    clock.set(new Date(T0.getTime() + BILLING_POLICY.claimLeaseMs));
    expect(await sweepBilling(sweepDeps)).toEqual({ windowsQueued: 2, recordsClaimed: 1, pendingRequeued: 0, pendingSettled: 0, windowsOverdue: 0 });
    const linkedWindow = (await billing.records([pendingLinked.redemptionId]))[0]!.windowId;
    expect(sent.map((message) => (message.kind === 'window' ? message.window_id : '')).sort()).toEqual([abandoned!.id, linkedWindow].sort());
    expect(await states([pendingUnlinked])).toEqual(['pending']);
  });
});
