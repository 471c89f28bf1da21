import { EVENT_API_VERSION } from '../../functions/contracts/events';
import { expiryBucket } from '../../functions/contracts/table';
import { maskCode, randomCode } from '../../functions/domain/access-codes';
import type { BatchExpiry, BatchRef, DueCode } from '../../functions/domain/expiry-sweep';
import { expiryImplementations, type ExpiryStoreHarness } from '../support/expiry-store-harness';

// One contract, two implementations of the expiry store: the in-memory double and
// DynamoExpiryStore on DynamoDB Local (its batches written by the job and code stores, as
// generation writes them). A case that passes on one and fails on the other is a double that
// drifted. Most cases share one store and tell their codes apart by project. The cases that read
// the whole expiry index or every pending change share a second one, and leave no code of theirs
// due at or before T (nor any change of another case pending).

const { implementations, dropTables } = expiryImplementations();
afterAll(dropTables);

const HOUR = 3_600_000;
// Tomorrow at midnight (UTC): events carry a TTL from the instant they are committed at, which
// DynamoDB Local applies against the wall clock.
const T = new Date(Math.floor(Date.now() / (24 * HOUR)) * 24 * HOUR + 24 * HOUR);
const at = (ms: number) => new Date(T.getTime() + ms);
const iso = (ms: number) => at(ms).toISOString();
let counter = 0;
/** A project no other case uses. */
const aProject = () => `prj_expiry_${Date.now()}_${++counter}`;

/** `count` fresh codes of expiry bucket `bucket`, in ascending order. */
const codesIn = (bucket: number, count: number): string[] => {
  const found: string[] = [];
  while (found.length < count) {
    const code = randomCode();
    if (expiryBucket(code) === bucket) found.push(code);
  }
  return found.sort();
};
const fresh = (count: number) => Array.from({ length: count }, () => randomCode());
const byCode = (a: { code: string }, b: { code: string }) => (a.code < b.code ? -1 : 1);

/** Slot `slot` of `batch` (holding `codes`) as the expiry index gives it. */
const dueOf = (batch: BatchRef, codes: readonly string[], slot: number, expiresAt = batch.expiresAt!): DueCode => ({
  code: codes[slot]!,
  planId: batch.planId,
  projectId: batch.projectId,
  jobId: batch.jobId,
  batchId: batch.batchId,
  slot,
  expiresAt,
});

describe.each(implementations)('the expiry store (%s)', (_name, open) => {
  let shared: ExpiryStoreHarness;
  /** The store of the cases that read the whole index. */
  let whole: ExpiryStoreHarness;
  beforeAll(async () => {
    [shared, whole] = await Promise.all([open(), open()]);
  });

  const statuses = async (h: ExpiryStoreHarness, codes: readonly string[]) => Promise.all(codes.map(async (code) => (await h.code(code))?.status));
  const expiries = async (h: ExpiryStoreHarness, codes: readonly string[]) => Promise.all(codes.map(async (code) => (await h.code(code))?.expiresAt));
  /** Steps a change on until it completes (a few steps at most). */
  const moveAll = async (h: ExpiryStoreHarness, start: BatchExpiry, now: Date) => {
    let expiry = start;
    for (let step = 0; expiry.status === 'in_progress'; step++) {
      if (step > 4) throw new Error('the change did not complete');
      const next = await h.store.moveBatchCodes(expiry, now);
      if (!next) throw new Error('the step was refused');
      expiry = next;
    }
    return expiry;
  };

  test('reads the live codes due at now, the instant itself included, soonest first within a bucket; not later, never-expiring, redeemed or expired ones', async () => {
    const h = whole;
    const project = aProject();
    // Two codes of one bucket, the later-expiring one the smaller: soonest first is by expiry, not code.
    const [bucketLater, bucketSooner] = codesIn(7, 2);
    const nowCodes = [bucketLater!, ...codesIn(8, 1), ...codesIn(9, 1)];
    const beforeCodes = [bucketSooner!, ...codesIn(10, 1)];
    const laterCodes = codesIn(7, 1);
    const [dueNow, dueBefore] = await Promise.all([
      h.addBatch({ projectId: project, codes: nowCodes, expiresAt: T }),
      h.addBatch({ projectId: project, codes: beforeCodes, expiresAt: at(-HOUR) }),
      h.addBatch({ projectId: project, codes: laterCodes, expiresAt: at(1) }),
      h.addBatch({ projectId: project, codes: codesIn(7, 1), expiresAt: null }),
    ]);
    await h.redeem(nowCodes[2]!);

    expect(await h.store.dueCodes(at(-HOUR - 1), 100)).toEqual({ codes: [], more: false, next: {} });
    expect((await h.store.dueCodes(at(-HOUR), 100)).codes.sort(byCode)).toEqual([dueOf(dueBefore, beforeCodes, 0), dueOf(dueBefore, beforeCodes, 1)].sort(byCode));

    const page = await h.store.dueCodes(T, 100);
    expect(page.more).toBe(false);
    expect([...page.codes].sort(byCode)).toEqual(
      [dueOf(dueNow, nowCodes, 0), dueOf(dueNow, nowCodes, 1), dueOf(dueBefore, beforeCodes, 0), dueOf(dueBefore, beforeCodes, 1)].sort(byCode),
    );
    expect(page.codes.filter((c) => expiryBucket(c.code) === 7).map((c) => c.code)).toEqual([bucketSooner, bucketLater]);

    // Expired codes leave the index: an hour on, only the code expiring just after T is due.
    expect(await h.store.expireCodes(page.codes, T)).toBe(4);
    expect(await h.store.dueCodes(at(HOUR), 100)).toMatchObject({ codes: [{ code: laterCodes[0], expiresAt: iso(1) }], more: false });
  });

  test('pages each bucket from where the last page left it, a share of the limit per bucket; a bucket left empty is not read again', async () => {
    const h = whole;
    const project = aProject();
    const crowded = codesIn(3, 4);
    const alone = codesIn(20, 1);
    // Slot i of the crowded bucket expires i minutes before T: slot 3 is the soonest.
    const batches = await Promise.all(crowded.map((code, i) => h.addBatch({ projectId: project, codes: [code], expiresAt: at(-i * 60_000) })));
    await h.addBatch({ projectId: project, codes: alone, expiresAt: T });

    // 32 buckets open and a limit of 32: one code a bucket.
    const first = await h.store.dueCodes(T, 32);
    expect(first.codes.map((c) => c.code).sort()).toEqual([crowded[3], alone[0]].sort());
    // Both buckets filled their share, so both are read on, though only one has more (as DynamoDB's Limit).
    expect(first.more).toBe(true);
    expect(Object.keys(first.next).map(Number).sort((a, b) => a - b)).toEqual([3, 20]);
    // The sweep expires each page before it reads the next.
    expect(await h.store.expireCodes(first.codes, T)).toBe(2);

    // Only the buckets that filled their share are read on, each with a larger share.
    const second = await h.store.dueCodes(T, 32, first.next);
    expect(second.codes).toEqual([dueOf(batches[2]!, [crowded[2]!], 0), dueOf(batches[1]!, [crowded[1]!], 0), dueOf(batches[0]!, [crowded[0]!], 0)]);
    expect(second.more).toBe(false);
    expect(await h.store.dueCodes(T, 32, {})).toEqual({ codes: [], more: false, next: {} });
    expect(await h.store.expireCodes(second.codes, T)).toBe(3);
  });

  test('expires each code still active and due at now, the instant included, with one access_code.expired event each; skips the rest; a second call expires nothing', async () => {
    const project = aProject();
    const [dueCodes, laterCodes, neverCodes] = [fresh(4), fresh(1), fresh(1)];
    const [batch, later, never] = await Promise.all([
      shared.addBatch({ projectId: project, codes: dueCodes, expiresAt: T }),
      shared.addBatch({ projectId: project, codes: laterCodes, expiresAt: at(1) }),
      shared.addBatch({ projectId: project, codes: neverCodes, expiresAt: null }),
    ]);
    await shared.redeem(dueCodes[1]!);
    const asked = [
      ...dueCodes.map((_, slot) => dueOf(batch, dueCodes, slot)),
      // Handed in as if due: their stored expiry says otherwise.
      dueOf(later, laterCodes, 0, T.toISOString()),
      dueOf(never, neverCodes, 0, T.toISOString()),
    ];

    expect(await shared.store.expireCodes(asked, T)).toBe(3);
    expect(await statuses(shared, [...dueCodes, ...laterCodes, ...neverCodes])).toEqual(['expired', 'redeemed', 'expired', 'expired', 'active', 'active']);
    const events = await shared.expiredEvents(project);
    expect(events.map((e) => e.data).sort((a, b) => (a.access_code < b.access_code ? -1 : 1))).toEqual(
      [0, 2, 3].map((slot) => ({ plan_id: batch.planId, batch_id: batch.batchId, access_code: maskCode(dueCodes[slot]!), expires_at: T.toISOString() })).sort((a, b) => (a.access_code < b.access_code ? -1 : 1)),
    );
    expect(events[0]).toEqual({ id: expect.stringMatching(/^evt_/), type: 'access_code.expired', created_at: T.toISOString(), api_version: EVENT_API_VERSION, project_id: project, data: expect.any(Object) });

    expect(await shared.store.expireCodes(asked, T)).toBe(0);
    expect(await shared.expiredEvents(project)).toHaveLength(3);
    expect(await shared.store.expireCodes(asked, at(1))).toBe(1);
    expect(await statuses(shared, laterCodes)).toEqual(['expired']);
    expect(await shared.expiredEvents(project)).toHaveLength(4);
  });

  test('finds a batch’s job, generated or not yet; an unknown batch is undefined', async () => {
    const project = aProject();
    const batch = await shared.addBatch({ projectId: project, codes: fresh(2), expiresAt: at(HOUR), generated: false });
    expect(batch.generated).toBe(false);

    expect(await shared.store.findBatch(batch.batchId)).toEqual(batch);
    await shared.markGenerated(batch);
    expect(await shared.store.findBatch(batch.batchId)).toEqual({ ...batch, generated: true });
    expect(await shared.store.findBatch('btc_01KZZZZZZZZZZZZZZZZZZZZZZZ')).toBeUndefined();
    expect(await shared.store.batchExpiry(batch.batchId)).toBeUndefined();
  });

  test('records a change, moving no code; the same or a later time changes nothing; an earlier one replaces it, even completed, from the first slot, and a step from the replaced state is refused', async () => {
    const codes = fresh(3);
    const batch = await shared.addBatch({ projectId: aProject(), codes, expiresAt: at(10 * HOUR) });

    const recorded = await shared.store.recordBatchExpiry(batch, at(5 * HOUR), T);
    const first: BatchExpiry = {
      batchId: batch.batchId,
      jobId: batch.jobId,
      projectId: batch.projectId,
      planId: batch.planId,
      expiresAt: iso(5 * HOUR),
      status: 'in_progress',
      codesAffected: 0,
      nextSlot: 0,
      requestedAt: T.toISOString(),
    };
    expect(recorded).toEqual({ expiry: first, changed: true });
    expect(await shared.store.batchExpiry(batch.batchId)).toEqual(first);
    expect(await expiries(shared, codes)).toEqual(Array(3).fill(iso(10 * HOUR)));

    const completed = await moveAll(shared, first, T);
    expect(completed).toEqual({ ...first, status: 'completed', nextSlot: 3, codesAffected: 3 });
    expect(await shared.store.batchExpiry(batch.batchId)).toEqual(completed);
    expect(await shared.store.recordBatchExpiry(batch, at(5 * HOUR), at(1000))).toEqual({ expiry: completed, changed: false });
    expect(await shared.store.recordBatchExpiry(batch, at(6 * HOUR), at(2000))).toEqual({ expiry: completed, changed: false });

    const earlier = await shared.store.recordBatchExpiry(batch, at(5 * HOUR - 1), at(3000));
    const replaced = { ...first, expiresAt: iso(5 * HOUR - 1), requestedAt: iso(3000) };
    expect(earlier).toEqual({ expiry: replaced, changed: true });
    expect(await shared.store.moveBatchCodes(first, at(4000))).toBeUndefined();
    expect(await shared.store.moveBatchCodes(completed, at(4000))).toBeUndefined();
    expect(await shared.store.batchExpiry(batch.batchId)).toEqual(replaced);
    expect(await expiries(shared, codes)).toEqual(Array(3).fill(iso(5 * HOUR)));
  });

  test('a step towards a time to come moves, in slot order, each code still active with a later or no expiry, and counts them; the earlier and redeemed stay, one at the new time stays too; the moved codes are due from then', async () => {
    const project = aProject();
    const [neverCodes, soonerCodes] = [fresh(4), fresh(2)];
    const cut = at(3 * HOUR);
    const [never, sooner, alreadyAtCut] = await Promise.all([
      shared.addBatch({ projectId: project, codes: neverCodes, expiresAt: null }),
      shared.addBatch({ projectId: project, codes: soonerCodes, expiresAt: at(HOUR) }),
      shared.addBatch({ projectId: project, codes: fresh(1), expiresAt: cut }),
    ]);
    await shared.redeem(neverCodes[1]!);

    const change = (await shared.store.recordBatchExpiry(never, cut, T)).expiry;
    const stepped = await shared.store.moveBatchCodes(change, T);
    expect(stepped).toEqual({ ...change, nextSlot: 4, codesAffected: 3 });
    expect(await shared.store.batchExpiry(never.batchId)).toEqual(stepped);
    expect(await statuses(shared, neverCodes)).toEqual(['active', 'redeemed', 'active', 'active']);
    expect(await expiries(shared, neverCodes)).toEqual([cut.toISOString(), null, cut.toISOString(), cut.toISOString()]);
    expect(await moveAll(shared, stepped!, T)).toEqual({ ...stepped, status: 'completed' });

    const notLater = (await shared.store.recordBatchExpiry(sooner, cut, T)).expiry;
    expect(await moveAll(shared, notLater, T)).toEqual({ ...notLater, status: 'completed', nextSlot: 2, codesAffected: 0 });
    expect(await expiries(shared, soonerCodes)).toEqual([iso(HOUR), iso(HOUR)]);
    const atCut = (await shared.store.recordBatchExpiry(alreadyAtCut, cut, T)).expiry;
    expect(await moveAll(shared, atCut, T)).toEqual({ ...atCut, status: 'completed', nextSlot: 1, codesAffected: 0 });
    expect(await shared.expiredEvents(project)).toEqual([]);

    // Every bucket read with a share of 100: the other cases' codes cannot crowd these out.
    const mine = async (now: Date) => (await shared.store.dueCodes(now, 3_200)).codes.filter((c) => c.batchId === never.batchId).sort(byCode);
    expect(await mine(new Date(cut.getTime() - 1))).toEqual([]);
    expect(await mine(cut)).toEqual([0, 2, 3].map((slot) => dueOf(never, neverCodes, slot, cut.toISOString())).sort(byCode));
  });

  test('a step towards a time passed (the instant included) expires the codes at once with their events at the new expiry; a step from a state no longer current writes nothing; of two racing steps one moves', async () => {
    const project = aProject();
    const codes = fresh(3);
    const batch = await shared.addBatch({ projectId: project, codes, expiresAt: at(10 * HOUR) });
    await shared.redeem(codes[2]!);
    const change = (await shared.store.recordBatchExpiry(batch, T, T)).expiry;

    const steps = await Promise.all([shared.store.moveBatchCodes(change, T), shared.store.moveBatchCodes(change, T)]);
    const moved = steps.filter((step) => step !== undefined);
    expect(moved).toEqual([{ ...change, nextSlot: 3, codesAffected: 2 }]);
    expect(await statuses(shared, codes)).toEqual(['expired', 'expired', 'redeemed']);
    expect(await expiries(shared, codes)).toEqual([T.toISOString(), T.toISOString(), iso(10 * HOUR)]);
    const events = await shared.expiredEvents(project);
    expect(events.map((e) => e.data.access_code).sort()).toEqual([maskCode(codes[0]!), maskCode(codes[1]!)].sort());
    expect(events.map((e) => [e.created_at, e.data.expires_at])).toEqual(Array(2).fill([T.toISOString(), T.toISOString()]));

    expect(await shared.store.moveBatchCodes(change, at(1000))).toBeUndefined();
    expect(await shared.store.batchExpiry(batch.batchId)).toEqual(moved[0]);
    expect(await shared.expiredEvents(project)).toHaveLength(2);
  });

  test('lists the changes in progress, oldest request first, up to the limit; a completed change leaves the list, a replaced one is listed as of its new request', async () => {
    const h = whole;
    const project = aProject();
    const [b0, b1, b2] = await Promise.all([0, 1, 2].map(() => h.addBatch({ projectId: project, codes: fresh(1), expiresAt: at(10 * HOUR) })));
    // Requested in another order than created: b2, then b0, then b1.
    const c2 = (await h.store.recordBatchExpiry(b2!, at(5 * HOUR), at(1000))).expiry;
    const c0 = (await h.store.recordBatchExpiry(b0!, at(5 * HOUR), at(2000))).expiry;
    const c1 = (await h.store.recordBatchExpiry(b1!, at(5 * HOUR), at(3000))).expiry;
    const ids = (list: BatchExpiry[]) => list.map((change) => change.batchId);

    expect(await h.store.pendingBatchExpiries(10)).toEqual([c2, c0, c1]);
    expect(ids(await h.store.pendingBatchExpiries(2))).toEqual([c2.batchId, c0.batchId]);

    await moveAll(h, c0, at(2500));
    await h.store.recordBatchExpiry(b2!, at(4 * HOUR), at(4000));
    expect(ids(await h.store.pendingBatchExpiries(10))).toEqual([c1.batchId, c2.batchId]);
  });
});
