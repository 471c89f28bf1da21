import { derivedCode, randomCode, type CodeGenerator } from '../../functions/domain/access-codes';
import type { AccessCodeRecord, AccessCodeStatus } from '../../functions/domain/access-code-record';
import type { Job } from '../../functions/domain/jobs';
import { InvalidCursorError, type CodePosition, type Pace } from '../../functions/domain/ports';
import { jobCodeImplementations, type JobCodeHarness } from '../support/job-code-store-harness';
import { queuedJob } from '../support/jobs';

// One contract, two implementations of the code store: InMemoryCodeStore and DynamoCodeStore on
// DynamoDB Local, each beside its job store (codes are stored for a job the job store wrote). A
// case that passes on one and fails on the other is a double that drifted. The cases share one
// store and tell their codes apart by plan.

const { implementations, dropTables } = jobCodeImplementations();
afterAll(dropTables);

const T0 = new Date('2030-01-01T00:00:00.000Z');
const HOUR = 3_600_000;
const at = (ms: number) => new Date(T0.getTime() + ms);
const slots = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
let counter = 0;
/** A plan no other case uses. */
const aPlan = () => `pln_codes_${Date.now()}_${++counter}`;

describe.each(implementations)('the code store (%s)', (_name, open) => {
  let h: JobCodeHarness;
  beforeAll(async () => {
    h = await open();
  });

  const createdJob = async (quantity: number, overrides: Partial<Job> = {}) => {
    const job = queuedJob({ quantity, planId: aPlan(), ...overrides });
    await h.jobs.createJob(job);
    return job;
  };
  /** A job with every code stored. */
  const storedJob = async (quantity: number, overrides: Partial<Job> = {}) => {
    const job = await createdJob(quantity, overrides);
    await h.codes.storeCodes(job, slots(quantity), derivedCode, T0);
    return { job, codes: (await h.codes.jobCodes(job.id)).map((entry) => entry.code) };
  };

  test('fills every slot of a chunk once, asking the pace before each write; a redelivered chunk stores nothing and moves nothing', async () => {
    const job = await createdJob(5, { expiresAt: at(HOUR).toISOString() });
    let taken = 0;
    const pace: Pace = { take: async (count) => void (taken += count) };
    expect(await h.codes.storeCodes(job, slots(5), derivedCode, at(1), pace)).toBe(5);
    expect(taken).toBe(5);
    expect(await h.jobs.countStored(job.id)).toBe(5);
    const first = await h.codes.jobCodes(job.id);
    expect(first.map((entry) => entry.slot)).toEqual(slots(5));
    expect(new Set(first.map((entry) => entry.code)).size).toBe(5);
    expect(await h.codes.getCode(first[3]!.code)).toEqual({
      code: first[3]!.code,
      planId: job.planId,
      projectId: job.projectId,
      jobId: job.id,
      batchId: job.batchId,
      slot: 3,
      status: 'active',
      expiresAt: at(HOUR).toISOString(),
      redeemedAt: null,
      createdAt: at(1).toISOString(),
    } satisfies AccessCodeRecord);
    // Progress moves the job's updatedAt (the sweeper tells a stalled job by it); a redelivery does not.
    expect((await h.jobs.getJob(job.id))?.updatedAt).toBe(at(1).toISOString());

    expect(await h.codes.storeCodes(job, slots(5), derivedCode, at(2))).toBe(0);
    expect(await h.codes.jobCodes(job.id)).toEqual(first);
    expect(await h.jobs.countStored(job.id)).toBe(5);
    expect(await h.codeRecords(job.id)).toBe(5);
    expect((await h.jobs.getJob(job.id))?.updatedAt).toBe(at(1).toISOString());
    expect((await h.codes.getCode(first[0]!.code))?.createdAt).toBe(at(1).toISOString());
  });

  test('takes whole chunks in slot order, of a job that exists, in any order; counts and reads a job from any slot, up to a limit', async () => {
    const job = await createdJob(260);
    await expect(h.codes.storeCodes(job, slots(10), derivedCode, T0)).rejects.toThrow();
    await expect(h.codes.storeCodes(job, [259, ...slots(9, 250)], derivedCode, T0)).rejects.toThrow();
    await expect(h.codes.storeCodes(queuedJob({ quantity: 1 }), [0], derivedCode, T0)).rejects.toThrow();
    expect(await h.jobs.countStored(job.id)).toBe(0);
    expect(await h.codes.jobCodes(job.id)).toEqual([]);

    // The last chunk alone (a whole chunk of 250 first would cost DynamoDB Local seconds): chunks
    // arrive in any order, and a job is read chunk by chunk from any slot.
    expect(await h.codes.storeCodes(job, slots(10, 250), derivedCode, T0)).toBe(10);
    expect(await h.jobs.countStored(job.id)).toBe(10);
    const stored = await h.codes.jobCodes(job.id);
    expect(stored.map((entry) => entry.slot)).toEqual(slots(10, 250));
    expect(new Set(stored.map((entry) => entry.code)).size).toBe(10);
    expect(await h.codes.jobCodes(job.id, 0, 3)).toEqual(stored.slice(0, 3));
    expect(await h.codes.jobCodes(job.id, 255, 3)).toEqual(stored.slice(5, 8));
    expect(await h.codes.jobCodes(job.id, 259)).toEqual(stored.slice(9));
    expect(await h.codes.jobCodes(job.id, 260)).toEqual([]);
    expect(await h.codes.jobCodes('mjb_never_created')).toEqual([]);
  });

  test('two runs of one chunk at once fill each slot once between them', async () => {
    const job = await createdJob(20);
    const counts = await Promise.all([h.codes.storeCodes(job, slots(20), derivedCode, T0), h.codes.storeCodes(job, slots(20), derivedCode, T0)]);
    expect(counts[0]! + counts[1]!).toBe(20);
    expect(await h.jobs.countStored(job.id)).toBe(20);
    expect(await h.codeRecords(job.id)).toBe(20);
    const codes = await h.codes.jobCodes(job.id);
    expect(codes.map((entry) => entry.slot)).toEqual(slots(20));
    expect(new Set(codes.map((entry) => entry.code)).size).toBe(20);
  });

  test("a collision takes the slot's next candidate and leaves the other code as it is, redeemed or not; a slot with no free candidate fails the call", async () => {
    const { codes: taken } = await storedJob(2);
    await h.redeem(taken[0]!, at(5));
    // Slot 0 of the next job first proposes another job's (redeemed) code, slot 1 a code of its own.
    const clash: CodeGenerator = (seed, slot, attempt) => (slot === 0 && attempt === 0 ? taken[0]! : derivedCode(seed, slot, attempt));
    const job = await createdJob(2);
    expect(await h.codes.storeCodes(job, slots(2), clash, T0)).toBe(2);
    expect(await h.codes.storeCodes(job, slots(2), clash, T0)).toBe(0);
    const mine = await h.codes.jobCodes(job.id);
    expect(mine[0]!.code).not.toBe(taken[0]);
    expect(await h.codeRecords(job.id)).toBe(2);
    expect(await h.codes.getCode(taken[0]!)).toMatchObject({ status: 'redeemed', redeemedAt: at(5).toISOString(), slot: 0 });
    expect((await h.codes.getCode(taken[0]!))?.jobId).not.toBe(job.id);

    const stuck = await createdJob(1);
    await expect(h.codes.storeCodes(stuck, [0], () => taken[1]!, T0)).rejects.toThrow();
    expect(await h.jobs.countStored(stuck.id)).toBe(0);
    expect(await h.codeRecords(stuck.id)).toBe(0);
  });

  test('expires an active code once its expiry has passed, the instant itself included; never an unexpiring, redeemed, expired or unknown code', async () => {
    const { codes } = await storedJob(3, { expiresAt: at(HOUR).toISOString() });
    expect(await h.codes.expireCode(codes[0]!, at(HOUR - 1))).toBe(false);
    expect(await h.codes.expireCode(codes[0]!, at(HOUR))).toBe(true);
    expect((await h.codes.getCode(codes[0]!))?.status).toBe('expired');
    expect(await h.codes.expireCode(codes[0]!, at(HOUR + 1))).toBe(false);

    await h.redeem(codes[1]!, at(10));
    expect(await h.codes.expireCode(codes[1]!, at(2 * HOUR))).toBe(false);
    expect((await h.codes.getCode(codes[1]!))?.status).toBe('redeemed');

    const { codes: forever } = await storedJob(1);
    expect(await h.codes.expireCode(forever[0]!, at(1000 * HOUR))).toBe(false);
    expect((await h.codes.getCode(forever[0]!))?.status).toBe('active');
    expect(await h.codes.expireCode(randomCode(), at(HOUR))).toBe(false);
    expect(await h.codes.getCode(randomCode())).toBeUndefined();
  });

  describe('listing a plan’s codes', () => {
    // One plan: A (3 codes, expiring at +2h; slot 0 redeemed), B (2 codes, expiring at +1h;
    // slot 0 marked expired), C (2 codes, never expiring), D (1 code, expiring at +30m); and
    // another plan's code, never listed. Statuses are judged at +1h.
    const asOf = at(HOUR);
    let plan: string;
    let A: string[];
    let B: string[];
    let C: string[];
    let D: string[];
    let jobIds: { A: string; B: string; C: string; D: string };
    beforeAll(async () => {
      plan = aPlan();
      const [a, b, c, d] = await Promise.all([
        storedJob(3, { planId: plan, expiresAt: at(2 * HOUR).toISOString() }),
        storedJob(2, { planId: plan, expiresAt: at(HOUR).toISOString() }),
        storedJob(2, { planId: plan }),
        storedJob(1, { planId: plan, expiresAt: at(HOUR / 2).toISOString() }),
        storedJob(1),
      ]);
      [A, B, C, D] = [a!.codes, b!.codes, c!.codes, d!.codes];
      jobIds = { A: a!.job.id, B: b!.job.id, C: c!.job.id, D: d!.job.id };
      await h.redeem(A[0]!, at(10));
      if (!(await h.codes.expireCode(B[0]!, asOf))) throw new Error('could not expire B0');
    });

    /** Job then slot, the order of a listing without status (and of stored statuses). */
    const byJob = () => (Object.keys(jobIds) as Array<keyof typeof jobIds>).sort((x, y) => (jobIds[x] < jobIds[y] ? -1 : 1));
    const codesOf = { A: () => A, B: () => B, C: () => C, D: () => D };
    const list = (filter: { status?: AccessCodeStatus; jobId?: string } = {}, limit = 100, after?: CodePosition) =>
      h.codes.listCodes(plan, { ...filter, asOf }, { limit, ...(after ? { after } : {}) });
    /** Follows `next` to the end: every page within the limit, only the last one short. */
    const walk = async (filter: { status?: AccessCodeStatus; jobId?: string }, limit: number) => {
      const pages: string[][] = [];
      let after: CodePosition | undefined;
      do {
        const page = await list(filter, limit, after);
        pages.push(page.codes.map((code) => code.code));
        after = page.next ?? undefined;
        if (pages.length > 20) throw new Error('the listing does not end');
      } while (after);
      pages.slice(0, -1).forEach((page) => expect(page).toHaveLength(limit));
      expect(pages.at(-1)!.length).toBeLessThanOrEqual(limit);
      return pages.flat();
    };

    test('without a status: every code of the plan, by job then slot, with its stored state', async () => {
      const page = await list();
      expect(page.next).toBeNull();
      expect(page.codes.map((code) => code.code)).toEqual(byJob().flatMap((job) => codesOf[job]()));
      expect(page.codes.find((code) => code.code === A[0])).toMatchObject({ status: 'redeemed', redeemedAt: at(10).toISOString(), jobId: jobIds.A, slot: 0 });
      expect(await h.codes.listCodes('pln_never_used', { asOf }, { limit: 10 })).toEqual({ codes: [], next: null });
    });

    test('by status as shown at the instant: active by expiry (none last), redeemed by job, expired the marked ones first and then those past their expiry by expiry', async () => {
      const codes = async (status: AccessCodeStatus) => (await list({ status })).codes.map((code) => code.code);
      expect(await codes('active')).toEqual([A[1], A[2], ...C]);
      expect(await codes('redeemed')).toEqual([A[0]]);
      expect(await codes('expired')).toEqual([B[0], D[0], B[1]]);
      // An hour earlier B[1] is still active, and sorts before A's later expiry.
      const earlier = await h.codes.listCodes(plan, { status: 'active', asOf: at(HOUR - 1) }, { limit: 100 });
      expect(earlier.codes.map((code) => code.code)).toEqual([B[1], A[1], A[2], ...C]);
    });

    test('of one job, alone or with a status', async () => {
      expect((await list({ jobId: jobIds.A })).codes.map((code) => code.code)).toEqual(A);
      expect((await list({ jobId: jobIds.A, status: 'active' })).codes.map((code) => code.code)).toEqual([A[1], A[2]]);
      expect((await list({ jobId: jobIds.B, status: 'expired' })).codes.map((code) => code.code)).toEqual([B[0], B[1]]);
      expect((await list({ jobId: 'mjb_never_created' })).codes).toEqual([]);
    });

    test('pages: each code once, in order, across pages and parts; a listing that fills its one page exactly has no next page', async () => {
      const everything = byJob().flatMap((job) => codesOf[job]());
      expect(await walk({}, 2)).toEqual(everything);
      expect(await walk({}, 4)).toEqual(everything);
      expect(await walk({ status: 'expired' }, 1)).toEqual([B[0], D[0], B[1]]);
      expect(await walk({ status: 'active' }, 2)).toEqual([A[1], A[2], ...C]);

      const exact = await list({ jobId: jobIds.A }, 3);
      expect([exact.codes.length, exact.next]).toEqual([3, null]);
      const one = await list({ status: 'redeemed' }, 1);
      expect([one.codes.length, one.next]).toEqual([1, null]);
      const first = await list({}, everything.length - 1);
      expect(first.codes.map((code) => code.code)).toEqual(everything.slice(0, -1));
      expect(first.next).not.toBeNull();
      expect((await list({}, 10, first.next!)).codes.map((code) => code.code)).toEqual(everything.slice(-1));
    });

    test('refuses a position that is not one of this listing’s', async () => {
      const refused = (after: CodePosition, filter: { status?: AccessCodeStatus; jobId?: string } = {}) =>
        expect(list(filter, 10, after)).rejects.toBeInstanceOf(InvalidCursorError);
      await refused({ part: 2, after: null }, { status: 'expired' });
      await refused({ part: 1, after: null }, { status: 'active' });
      await refused({ part: -1, after: null });
      await refused({ part: 0.5, after: null });
      await refused({ part: 0, after: 'ZZZ' });
      await refused({ part: 0, after: '' });
      const otherJob = (await list({ jobId: jobIds.B }, 1)).next!;
      await refused(otherJob, { jobId: jobIds.A });
    });
  });
});
