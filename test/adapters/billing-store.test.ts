import { ulid } from 'ulid';
import { billingDueKeys, billingDuePartition } from '../../functions/contracts/table';
import type { BillingRecord, BillingWindow } from '../../functions/domain/billing';
import { redemptionIdAt } from '../support/billing-doubles';
import { billingImplementations, type BillingStoreHarness } from '../support/billing-store-harness';

// One contract, two implementations of the billing store: the in-memory double and
// DynamoBillingStore on DynamoDB Local (its records put as a redemption's commit puts them). A
// case that passes on one and fails on the other is a double that drifted. Most cases share one
// store, each with projects and customers of its own, and read the due index only for their own
// ids; the case on the due index's per-bucket limit has a store to itself.

const { implementations, dropTables } = billingImplementations();
afterAll(dropTables);

const T = new Date('2026-06-10T09:00:00.000Z');
const PERIOD = '2026-06';
const LEASE_MS = 60_000;
const at = (seconds: number) => new Date(T.getTime() + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();
const justBefore = (instant: Date) => new Date(instant.getTime() - 1);
let counter = 0;
const aProject = () => `prj_billing_${Date.now()}_${++counter}`;
const aCustomer = () => `cus_billing_${Date.now()}_${++counter}`;
const byId = <R extends { redemptionId: string }>(records: readonly R[]) => [...records].sort((a, b) => (a.redemptionId < b.redemptionId ? -1 : 1));

/** A window as the billing use case makes it: claimed at `now`, left to its claimer until the lease ends. */
const aWindow = (records: readonly BillingRecord[], now: Date, overrides: Partial<BillingWindow> = {}): BillingWindow => ({
  id: `bwn_${ulid(now.getTime())}`,
  stripeCustomerId: records[0]!.stripeCustomerId!,
  period: records[0]!.period,
  redemptionIds: records.map((record) => record.redemptionId),
  timestamp: records.reduce((latest, record) => (record.redeemedAt > latest ? record.redeemedAt : latest), records[0]!.redeemedAt),
  state: 'sending',
  attempts: 0,
  nextAttemptAt: new Date(now.getTime() + LEASE_MS).toISOString(),
  firstFailureAt: null,
  lastError: null,
  createdAt: now.toISOString(),
  ...overrides,
});

describe.each(implementations)('the billing store (%s)', (_name, open) => {
  let h: BillingStoreHarness;
  /** The store of the case that reads whole buckets of the due index. */
  let whole: BillingStoreHarness;
  beforeAll(async () => {
    [h, whole] = await Promise.all([open(), open()]);
  });

  /** Those of `ids` (windows' and records') that the due index gives, by the bounds given. */
  const dueAmong = async (ids: readonly string[], windowsDueBy: Date, recordsOlderThan: Date) => {
    const due = await h.store.due({ windowsDueBy, recordsOlderThan, limit: 1_000 });
    return [...due.windows.map((window) => window.id), ...due.records.map((record) => record.redemptionId)].filter((id) => ids.includes(id)).sort();
  };
  const commitQueued = (projectId: string, customer: string, seconds: number) => h.commit({ projectId, customer, at: at(seconds) });
  const recordsOf = async (records: readonly BillingRecord[]) => byId(await h.store.records(records.map((record) => record.redemptionId)));

  test('reads committed records back by id, strongly, each once, leaving unknown ids out; none of them is billed', async () => {
    const project = aProject();
    const customer = aCustomer();
    const [queued, pending, free] = await Promise.all([
      commitQueued(project, customer, 1),
      h.commit({ projectId: project, customer: null, at: at(2) }),
      h.commit({ projectId: project, customer, at: at(3), noCharge: true }),
    ]);

    expect(queued).toEqual({
      redemptionId: expect.stringMatching(/^rdm_/),
      projectId: project,
      period: PERIOD,
      stripeCustomerId: customer,
      redeemedAt: iso(1),
      state: 'queued',
      windowId: null,
      reason: null,
      updatedAt: iso(1),
    });
    expect([pending.state, pending.stripeCustomerId, free.state]).toEqual(['pending', null, 'no_charge']);
    const read = await h.store.records([pending.redemptionId, queued.redemptionId, pending.redemptionId, 'rdm_01KZZZZZZZZZZZZZZZZZZZZZZZ', free.redemptionId]);
    expect(byId(read)).toEqual(byId([queued, pending, free]));
    expect(await h.store.records([])).toEqual([]);
    expect(await Promise.all([queued, pending, free].map((record) => h.store.isBilled(record.redemptionId)))).toEqual([false, false, false]);
    expect(await h.store.isBilled('rdm_01KZZZZZZZZZZZZZZZZZZZZZZZ')).toBe(false);
  });

  test('claims queued records of the window’s customer and period into it, all or none: one pending, no-charge, of another customer or period, unknown or claimed already fails the claim and moves nothing; so does a window id used before', async () => {
    const project = aProject();
    const customer = aCustomer();
    const [first, second, spare, ...refused] = await Promise.all([
      commitQueued(project, customer, 1),
      commitQueued(project, customer, 2),
      commitQueued(project, customer, 3),
      h.commit({ projectId: project, customer: null, at: at(4) }),
      h.commit({ projectId: project, customer, at: at(5), noCharge: true }),
      commitQueued(project, aCustomer(), 6),
      h.commit({ projectId: project, customer, at: new Date('2026-07-01T00:00:00.000Z') }),
    ]);
    const unknown = { ...first, redemptionId: redemptionIdAt(at(7)) };

    const attempts = [...refused, unknown].map((other) => aWindow([first, other], at(10), { stripeCustomerId: customer, period: PERIOD }));
    expect(await Promise.all(attempts.map((attempt) => h.store.createWindow(attempt, at(10))))).toEqual(attempts.map(() => false));
    expect(await h.store.windows(attempts.map((attempt) => attempt.id))).toEqual([]);
    expect(await recordsOf([first, ...refused])).toEqual(byId([first, ...refused]));

    const window = aWindow([first, second], at(20));
    expect(await h.store.createWindow(window, at(20))).toBe(true);
    expect(await h.store.window(window.id)).toEqual(window);
    expect(await recordsOf([first, second])).toEqual(byId([first, second].map((record) => ({ ...record, state: 'sending', windowId: window.id, updatedAt: iso(20) }))));

    expect(await h.store.createWindow(aWindow([second, spare], at(30)), at(30))).toBe(false);
    expect(await h.store.createWindow({ ...window, redemptionIds: [spare.redemptionId] }, at(30))).toBe(false);
    expect(await recordsOf([spare])).toEqual([spare]);
    expect(await h.store.window(window.id)).toEqual(window);
    expect(await h.store.windows([window.id, 'bwn_01KZZZZZZZZZZZZZZZZZZZZZZZ', window.id])).toEqual([window]);
  });

  test('of three claims racing for overlapping records exactly one wins: its records are in its window, the others wrote nothing', async () => {
    const project = aProject();
    const customer = aCustomer();
    const [a, b, c] = await Promise.all([commitQueued(project, customer, 1), commitQueued(project, customer, 2), commitQueued(project, customer, 3)]);
    const contenders = [aWindow([a, b], at(10)), aWindow([b, c], at(10)), aWindow([c, a], at(10))];

    const claimed = await Promise.all(contenders.map((window) => h.store.createWindow(window, at(10))));

    expect(claimed.filter(Boolean)).toHaveLength(1);
    const winner = contenders[claimed.indexOf(true)]!;
    expect(await h.store.windows(contenders.map((window) => window.id))).toEqual([winner]);
    const records = await recordsOf([a, b, c]);
    expect(records.filter((record) => record.state === 'sending' && record.windowId === winner.id).map((record) => record.redemptionId).sort()).toEqual([...winner.redemptionIds].sort());
    expect(records.filter((record) => record.state === 'queued')).toHaveLength(1);
  });

  test('a queued or pending record is due from its commit, the instant included, by the records’ bound alone; a no-charge one never is', async () => {
    const project = aProject();
    const [queued, pending, free] = await Promise.all([
      commitQueued(project, aCustomer(), 50),
      h.commit({ projectId: project, customer: null, at: at(50) }),
      h.commit({ projectId: project, customer: aCustomer(), at: at(50), noCharge: true }),
    ]);
    const ids = [queued, pending, free].map((record) => record.redemptionId);

    expect(await dueAmong(ids, at(50), justBefore(at(50)))).toEqual([]);
    expect(await dueAmong(ids, at(0), at(50))).toEqual([queued.redemptionId, pending.redemptionId].sort());
    const due = await h.store.due({ windowsDueBy: at(0), recordsOlderThan: at(3_600), limit: 1_000 });
    expect(byId(due.records.filter((record) => ids.includes(record.redemptionId)))).toEqual(byId([queued, pending]));
  });

  test('a claimed window is due once its claim’s lease is over, the instant included, not a millisecond before; its records are due no more', async () => {
    const customer = aCustomer();
    const project = aProject();
    const records = await Promise.all([5, 6].map((seconds) => commitQueued(project, customer, seconds)));
    const window = aWindow(records, at(10));
    const leaseEnd = new Date(window.nextAttemptAt);
    const ids = [window.id, ...records.map((record) => record.redemptionId)];
    expect(await dueAmong(ids, at(10), at(10))).toEqual(records.map((record) => record.redemptionId).sort());

    expect(await h.store.createWindow(window, at(10))).toBe(true);

    expect(await dueAmong(ids, justBefore(leaseEnd), leaseEnd)).toEqual([]);
    const due = await h.store.due({ windowsDueBy: leaseEnd, recordsOlderThan: leaseEnd, limit: 1_000 });
    expect(due.windows.filter((w) => w.id === window.id)).toEqual([window]);
    expect(due.records.filter((record) => ids.includes(record.redemptionId))).toEqual([]);
  });

  test('marks a window and its records billed together, out of the due index; marking it again does nothing; a window parked meanwhile cannot be marked billed, nor a billed one parked', async () => {
    const customer = aCustomer();
    const project = aProject();
    const [first, second, third] = await Promise.all([commitQueued(project, customer, 1), commitQueued(project, customer, 2), commitQueued(project, customer, 3)]);
    const records = [first, second];
    const window = aWindow(records, at(10));
    const other = aWindow([third], at(20));
    await Promise.all([h.store.createWindow(window, at(10)), h.store.createWindow(other, at(20))]);

    await h.store.markWindowBilled(window, at(11));
    await h.store.markWindowBilled(window, at(12));

    expect(await h.store.window(window.id)).toEqual({ ...window, state: 'billed' });
    expect(await recordsOf(records)).toEqual(byId(records.map((record) => ({ ...record, state: 'billed', windowId: window.id, updatedAt: iso(11) }))));
    expect(await Promise.all(records.map((record) => h.store.isBilled(record.redemptionId)))).toEqual([true, true]);
    expect(await dueAmong([window.id], at(3_600), at(3_600))).toEqual([]);
    await expect(h.store.parkWindow(window, 'refused', at(13))).rejects.toThrow(/could not be marked parked/);

    await h.store.parkWindow(other, 'refused', at(21));
    await expect(h.store.markWindowBilled(other, at(22))).rejects.toThrow(/could not be marked billed/);
    expect((await h.store.window(other.id))?.state).toBe('parked');
    expect(await h.store.isBilled(other.redemptionIds[0]!)).toBe(false);
  });

  test('counts a failed try and makes the window due at its next try, even before the lease ends; keeps the first failure’s time; a count from a stale read, or on a settled window, is ignored', async () => {
    const customer = aCustomer();
    const window = aWindow([await commitQueued(aProject(), customer, 1)], at(0));
    await h.store.createWindow(window, at(0));

    await h.store.recordWindowFailure(window, { attempts: 1, nextAttemptAt: at(5), error: 'e'.repeat(1_500), firstFailureAt: at(1) }, at(1));
    const failed = { ...window, attempts: 1, nextAttemptAt: iso(5), lastError: 'e'.repeat(1_000), firstFailureAt: iso(1) };
    expect(await h.store.window(window.id)).toEqual(failed);
    expect(await dueAmong([window.id], justBefore(at(5)), at(0))).toEqual([]);
    expect(await dueAmong([window.id], at(5), at(0))).toEqual([window.id]);

    // Read before the first count (attempts 0): a concurrent try that counted first wins.
    await h.store.recordWindowFailure(window, { attempts: 1, nextAttemptAt: at(500), error: 'stale', firstFailureAt: at(2) }, at(2));
    expect(await h.store.window(window.id)).toEqual(failed);

    await h.store.recordWindowFailure(failed, { attempts: 2, nextAttemptAt: at(20), error: 'again', firstFailureAt: at(9) }, at(9));
    const twice = { ...failed, attempts: 2, nextAttemptAt: iso(20), lastError: 'again' };
    expect(await h.store.window(window.id)).toEqual(twice);

    await h.store.markWindowBilled(twice, at(21));
    await h.store.recordWindowFailure(twice, { attempts: 3, nextAttemptAt: at(40), error: 'late', firstFailureAt: at(21) }, at(21));
    expect(await h.store.window(window.id)).toEqual({ ...twice, state: 'billed' });
    expect(await dueAmong([window.id], at(3_600), at(3_600))).toEqual([]);
  });

  test('parks a window and its records with the reason (1,000 characters at most), out of the due index and listed parked oldest first; a parked record is queued again for a customer once, due from then, and can be claimed anew', async () => {
    const customer = aCustomer();
    const project = aProject();
    const [later, earlier] = await Promise.all([commitQueued(project, customer, 2), commitQueued(project, customer, 1)]);
    const window = aWindow([later, earlier], at(10));
    await h.store.createWindow(window, at(10));

    await h.store.parkWindow(window, 'r'.repeat(1_500), at(11));
    await h.store.parkWindow(window, 'again', at(12));

    const parked = [earlier, later].map((record) => ({ ...record, state: 'parked' as const, windowId: window.id, reason: 'r'.repeat(1_000), updatedAt: iso(11) }));
    expect((await h.store.window(window.id))?.state).toBe('parked');
    expect(await h.store.parkedRecords(project)).toEqual(parked);
    expect((await h.store.parkedRecords()).filter((record) => record.projectId === project)).toEqual(parked);
    expect(await h.store.parkedRecords(aProject())).toEqual([]);
    expect(await dueAmong([window.id, earlier.redemptionId, later.redemptionId], at(3_600), at(3_600))).toEqual([]);

    const replacement = aCustomer();
    expect(await h.store.requeueRecord(earlier, 'pending', replacement, at(20))).toBe(false);
    const replays = await Promise.all([h.store.requeueRecord(earlier, 'parked', replacement, at(20)), h.store.requeueRecord(earlier, 'parked', replacement, at(20))]);
    expect(replays.sort()).toEqual([false, true]);
    expect(await h.store.requeueRecord(earlier, 'parked', replacement, at(21))).toBe(false);

    const requeued = { ...earlier, state: 'queued' as const, stripeCustomerId: replacement, updatedAt: iso(20) };
    expect(await recordsOf([earlier])).toEqual([requeued]);
    expect(await h.store.parkedRecords(project)).toEqual([parked[1]]);
    expect(await dueAmong([earlier.redemptionId], at(0), justBefore(at(20)))).toEqual([]);
    expect(await dueAmong([earlier.redemptionId], at(0), at(20))).toEqual([earlier.redemptionId]);
    expect(await h.store.createWindow(aWindow([requeued], at(30)), at(30))).toBe(true);
  });

  test('a pending record whose project still has no customer leaves the due index and stays pending; settling a record that is not pending does nothing', async () => {
    const project = aProject();
    const [pending, queued] = await Promise.all([h.commit({ projectId: project, customer: null, at: at(60) }), commitQueued(project, aCustomer(), 60)]);

    await h.store.settlePending(pending, at(70));
    await h.store.settlePending(queued, at(70));

    expect(await dueAmong([pending.redemptionId, queued.redemptionId], at(3_600), at(3_600))).toEqual([queued.redemptionId]);
    expect(await recordsOf([pending, queued])).toEqual(byId([{ ...pending, updatedAt: iso(70) }, queued]));
    expect(await h.store.pendingForProject(project)).toEqual([{ ...pending, updatedAt: iso(70) }]);
  });

  test('queues every pending record of the project, settled or not, for the customer, each once even when two callers race; they are due from then; another project’s stay pending', async () => {
    const project = aProject();
    const neighbour = aProject();
    const customer = aCustomer();
    const [settled, waiting, queued, theirs] = await Promise.all([
      h.commit({ projectId: project, customer: null, at: at(1) }),
      h.commit({ projectId: project, customer: null, at: at(2) }),
      commitQueued(project, aCustomer(), 3),
      h.commit({ projectId: neighbour, customer: null, at: at(4) }),
    ]);
    await h.store.settlePending(settled, at(5));

    const moved = await Promise.all([h.store.requeuePending(project, customer, at(100)), h.store.requeuePending(project, customer, at(100))]);

    expect(moved[0]! + moved[1]!).toBe(2);
    expect(await h.store.requeuePending(project, customer, at(101))).toBe(0);
    expect(await h.store.pendingForProject(project)).toEqual([]);
    expect(await recordsOf([settled, waiting, queued])).toEqual(
      byId([...[settled, waiting].map((record) => ({ ...record, state: 'queued' as const, stripeCustomerId: customer, updatedAt: iso(100) })), queued]),
    );
    const ids = [settled.redemptionId, waiting.redemptionId];
    expect(await dueAmong(ids, at(0), justBefore(at(100)))).toEqual([]);
    expect(await dueAmong(ids, at(0), at(100))).toEqual([...ids].sort());
    expect(await h.store.pendingForProject(neighbour)).toEqual([theirs]);
    expect(await h.store.requeueRecord(theirs, 'parked', customer, at(100))).toBe(false);
    expect(await h.store.requeueRecord({ ...theirs, projectId: project }, 'pending', customer, at(100))).toBe(false);
    expect(await h.store.requeueRecord(theirs, 'pending', customer, at(100))).toBe(true);
  });

  test('lists a project’s records of one period in every state, oldest first, and its pending ones of every period; other projects and periods are left out', async () => {
    const project = aProject();
    const customer = aCustomer();
    const july = (day: number) => new Date(`2026-07-0${day}T00:00:00.000Z`);
    const [newest, oldest, middle, inJuly, pendingInJuly] = await Promise.all([
      commitQueued(project, customer, 30),
      h.commit({ projectId: project, customer: null, at: at(10) }),
      h.commit({ projectId: project, customer, at: at(20), noCharge: true }),
      h.commit({ projectId: project, customer, at: july(1) }),
      h.commit({ projectId: project, customer: null, at: july(2) }),
      commitQueued(aProject(), customer, 15),
    ]);
    const window = aWindow([newest], at(40));
    await h.store.createWindow(window, at(40));

    expect(await h.store.billingRecords(project, PERIOD)).toEqual([oldest, middle, { ...newest, state: 'sending', windowId: window.id, updatedAt: iso(40) }]);
    expect(await h.store.billingRecords(project, '2026-07')).toEqual([inJuly, pendingInJuly]);
    expect(await h.store.billingRecords(project, '2026-05')).toEqual([]);
    expect(await h.store.pendingForProject(project)).toEqual([oldest, pendingInJuly]);
    expect(await h.store.pendingForProject(aProject())).toEqual([]);
  });

  test('reads at most `limit` items of each due bucket, windows and records alike, soonest first; other buckets give theirs', async () => {
    const project = aProject();
    const customer = aCustomer();
    /** A fresh id of `make` whose due key falls in bucket 3 (or, `elsewhere`, not). */
    const idIn = (make: () => string, elsewhere = false) => {
      for (;;) {
        const id = make();
        if ((billingDueKeys(id, 0).gsi3pk === billingDuePartition(3)) !== elsewhere) return id;
      }
    };
    const [claimed, alone, ...crowded] = await Promise.all([
      whole.commit({ projectId: project, customer, at: at(-10) }),
      whole.commit({ projectId: project, customer, at: at(4), redemptionId: idIn(() => redemptionIdAt(at(4)), true) }),
      whole.commit({ projectId: project, customer, at: at(1), redemptionId: idIn(() => redemptionIdAt(at(1))) }),
      whole.commit({ projectId: project, customer, at: at(2), redemptionId: idIn(() => redemptionIdAt(at(2))) }),
      whole.commit({ projectId: project, customer: null, at: at(3), redemptionId: idIn(() => redemptionIdAt(at(3))) }),
    ]);
    const window = aWindow([claimed], at(-10), { id: idIn(() => `bwn_${ulid(at(-10).getTime())}`), nextAttemptAt: iso(0) });
    expect(await whole.store.createWindow(window, at(-10))).toBe(true);

    const due = await whole.store.due({ windowsDueBy: at(10), recordsOlderThan: at(10), limit: 2 });

    expect(due.windows).toEqual([window]);
    expect(byId(due.records)).toEqual(byId([crowded[0]!, alone]));
    const all = await whole.store.due({ windowsDueBy: at(10), recordsOlderThan: at(10), limit: 4 });
    expect(byId(all.records)).toEqual(byId([...crowded, alone]));
  });
});
