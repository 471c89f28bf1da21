import { createHmac } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { CODE_ALPHABET, derivedCode, type CodeGenerator } from '../../functions/domain/access-codes';
import { keys } from '../../functions/contracts/table';
import { DynamoJobStore } from '../../functions/adapters/dynamodb/job-store';
import { DynamoCodeStore } from '../../functions/adapters/dynamodb/code-store';
import { InvalidCursorError, type CodePosition } from '../../functions/domain/ports';
import { getJobStatus } from '../../functions/use-cases/jobs-and-codes';
import { generatedEvent } from '../../functions/use-cases/generation/generate-chunk';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { queuedJob } from '../support/jobs';

let table: TestTable;
let jobs: DynamoJobStore;
let codes: DynamoCodeStore;
beforeAll(async () => {
  table = await createTestTable();
  jobs = new DynamoJobStore(table.db, table.tableName);
  codes = new DynamoCodeStore(table.db, table.tableName);
});
afterAll(async () => table.drop());

const slots = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
const now = () => new Date();

describe('creating a job under an Idempotency-Key', () => {
  const claim = (requestHash: string) => ({ teamId: 'tea_idem', key: 'key-1', requestHash, expiresAt: new Date(Date.now() + 60_000) });

  test('creates once, replays the same request, refuses another request', async () => {
    const first = queuedJob({ quantity: 5 });
    expect(await jobs.createJob(first, claim('h1'))).toEqual({ outcome: 'created' });
    expect(await jobs.createJob(queuedJob({ quantity: 5 }), claim('h1'))).toEqual({ outcome: 'replayed', jobId: first.id });
    expect(await jobs.createJob(queuedJob({ quantity: 6 }), claim('h2'))).toEqual({ outcome: 'key-reused' });
    const stored = (await table.scanAll()).filter((item) => item.type === 'job' && String(item.team_id) === 'tea_test');
    expect(stored.map((item) => item.job_id)).toContain(first.id);
    expect(stored).toHaveLength(1);
  });

  test('the same key from another team is another key', async () => {
    const job = queuedJob({ quantity: 1, teamId: 'tea_other' });
    expect(await jobs.createJob(job, { ...claim('h9'), teamId: 'tea_other' })).toEqual({ outcome: 'created' });
  });

  test('an expired claim can be taken again', async () => {
    const expired = { teamId: 'tea_exp', key: 'k', requestHash: 'a', expiresAt: new Date(Date.now() - 1000) };
    expect(await jobs.createJob(queuedJob({ quantity: 1 }), expired)).toEqual({ outcome: 'created' });
    const fresh = { ...expired, requestHash: 'b', expiresAt: new Date(Date.now() + 60_000) };
    expect(await jobs.createJob(queuedJob({ quantity: 1 }), fresh)).toEqual({ outcome: 'created' });
  });
});

describe('storing codes', () => {
  const codeItems = async (jobId: string) => (await table.scanAll()).filter((item) => item.type === 'access_code' && item.job_id === jobId);

  test('fills every slot once with a unique code, and a redelivered chunk changes nothing', async () => {
    const job = queuedJob({ quantity: 300 });
    await jobs.createJob(job);
    expect(await codes.storeCodes(job, slots(250), derivedCode, now())).toBe(250);
    expect(await codes.storeCodes(job, slots(50, 250), derivedCode, now())).toBe(50);
    const before = await codes.jobCodes(job.id);

    expect(await codes.storeCodes(job, slots(250), derivedCode, now())).toBe(0);
    expect(await jobs.countStored(job.id)).toBe(300);
    const after = await codes.jobCodes(job.id);
    expect(after).toEqual(before);
    expect(after.map((c) => c.slot)).toEqual(slots(300));
    expect(new Set(after.map((c) => c.code)).size).toBe(300);
    expect(await codes.jobCodes(job.id, 240, 20)).toEqual(after.slice(240, 260));
    const items = await codeItems(job.id);
    expect(items).toHaveLength(300);
    expect(new Map(items.map((item) => [item.slot, item.code]))).toEqual(new Map(after.map((c) => [c.slot, c.code])));
  });

  test('takes whole chunks only', async () => {
    const job = queuedJob({ quantity: 300 });
    await jobs.createJob(job);
    await expect(codes.storeCodes(job, slots(10), derivedCode, now())).rejects.toThrow(/whole chunks/);
  });

  test('two workers on the same chunk at once store it once', async () => {
    const job = queuedJob({ quantity: 200 });
    await jobs.createJob(job);
    const counts = await Promise.all([codes.storeCodes(job, slots(200), derivedCode, now()), codes.storeCodes(job, slots(200), derivedCode, now())]);
    expect(counts[0]! + counts[1]!).toBe(200);
    expect(await jobs.countStored(job.id)).toBe(200);
    expect(new Set((await codes.jobCodes(job.id)).map((c) => c.code)).size).toBe(200);
    expect(await codeItems(job.id)).toHaveLength(200);
  });

  test('a late duplicate of a chunk leaves a redeemed code redeemed', async () => {
    const job = queuedJob({ quantity: 3 });
    await jobs.createJob(job);
    await codes.storeCodes(job, slots(3), derivedCode, now());
    const [first] = await codes.jobCodes(job.id);
    await table.db.send(
      new UpdateCommand({ TableName: table.tableName, Key: keys.code(first!.code), UpdateExpression: 'SET #s = :r', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':r': 'redeemed' } }),
    );
    expect(await codes.storeCodes(job, slots(3), derivedCode, now())).toBe(0);
    expect((await codes.getCode(first!.code))?.status).toBe('redeemed');
  });

  test("a collision with another job's code takes the slot's next candidate and leaves the other code alone", async () => {
    // Both jobs' slot 0 first proposes the same code: the second job must move on.
    const clash: CodeGenerator = (seed, slot, attempt) => (slot === 0 && attempt === 0 ? 'CLASH0000000' : derivedCode(seed, slot, attempt));
    const a = queuedJob({ quantity: 2 });
    const b = queuedJob({ quantity: 2 });
    await jobs.createJob(a);
    await jobs.createJob(b);
    expect(await codes.storeCodes(a, slots(2), clash, now())).toBe(2);
    expect(await codes.storeCodes(b, slots(2), clash, now())).toBe(2);
    expect(await codes.storeCodes(b, slots(2), clash, now())).toBe(0);
    expect((await codes.getCode('CLASH0000000'))?.jobId).toBe(a.id);
    const bCodes = await codes.jobCodes(b.id);
    expect(bCodes[0]!.code).not.toBe('CLASH0000000');
    expect(await codeItems(b.id)).toHaveLength(2);
  });

  test('takes the next candidate on collision, so codes stay unique service-wide even in a tiny code space', async () => {
    // 4^5 = 1,024 possible codes for 200: about twenty collisions, all of which must be resolved.
    let draws = 0;
    const tiny: CodeGenerator = (seed, slot, attempt) => {
      draws++;
      const bytes = createHmac('sha256', seed).update(`${slot}:${attempt}`).digest();
      return Array.from({ length: 12 }, (_, i) => (i < 5 ? CODE_ALPHABET[bytes[i]! % 4] : '0')).join('');
    };
    const a = queuedJob({ quantity: 100, planId: 'pln_tiny' });
    const b = queuedJob({ quantity: 100, planId: 'pln_tiny' });
    await jobs.createJob(a);
    await jobs.createJob(b);
    // Each job is one chunk; both stored at once, so their candidates collide with each other's.
    await Promise.all([codes.storeCodes(a, slots(100), tiny, now()), codes.storeCodes(b, slots(100), tiny, now())]);
    // The same chunk again, twice at once: every slot finds its own code, none is stored twice.
    await Promise.all([codes.storeCodes(a, slots(100), tiny, now()), codes.storeCodes(a, slots(100), tiny, now())]);
    const all = [...(await codes.jobCodes(a.id)), ...(await codes.jobCodes(b.id))].map((c) => c.code);
    expect(all).toHaveLength(200);
    expect(new Set(all).size).toBe(200);
    // 400 first candidates (200 slots, 100 redelivered twice): more draws means collisions were met and resolved.
    expect(draws).toBeGreaterThan(400);
    expect((await codeItems(a.id)).length + (await codeItems(b.id)).length).toBe(200);
  });
});

describe('the generated mark', () => {
  test('is set once, with exactly one outbox event', async () => {
    const job = queuedJob({ quantity: 1 });
    await jobs.createJob(job);
    await jobs.markProcessing(job.id, now());
    const results = await Promise.all([1, 2, 3].map(() => jobs.markGenerated(job.id, generatedEvent(job, now()), now())));
    expect(results.filter(Boolean)).toHaveLength(1);
    const events = (await table.scanAll()).filter(
      (item) => item.type === 'outbox_event' && (item.event as { data: { batch_id: string } }).data.batch_id === job.batchId,
    );
    expect(events).toHaveLength(1);
    const principal = { tokenId: 'tok_test', teamId: job.teamId, abilities: [] };
    expect((await getJobStatus({ jobs }, principal, job.id)).generated_count).toBe(1);
  });

  test('is refused for a job that failed', async () => {
    const job = queuedJob({ quantity: 1 });
    await jobs.createJob(job);
    await jobs.failJob(job.id, { code: 'x', message: 'y' }, now());
    expect(await jobs.markGenerated(job.id, generatedEvent(job, now()), now())).toBe(false);
  });
});

describe('the delivery lease', () => {
  test('has one holder at a time, lapses, and fences the old holder out', async () => {
    const job = queuedJob({ quantity: 2 });
    await jobs.createJob(job);
    await jobs.markProcessing(job.id, now());
    await jobs.markGenerated(job.id, generatedEvent(job, now()), now());

    const t0 = new Date();
    expect(await jobs.acquireDeliveryLease(job.id, 'a', new Date(t0.getTime() + 1000), t0)).toBeDefined();
    expect(await jobs.acquireDeliveryLease(job.id, 'b', new Date(t0.getTime() + 1000), t0)).toBeUndefined();
    expect(await jobs.recordDelivered(job.id, 'a', 1, t0)).toBe(true);

    const later = new Date(t0.getTime() + 2000);
    expect((await jobs.acquireDeliveryLease(job.id, 'b', new Date(later.getTime() + 1000), later))?.deliveredCount).toBe(1);
    expect(await jobs.recordDelivered(job.id, 'a', 2, later)).toBe(false);
    expect(await jobs.completeJob(job.id, 'a', later)).toBe(false);
    expect(await jobs.completeJob(job.id, 'b', later)).toBe(true);
    expect((await jobs.getJob(job.id))?.status).toBe('completed');
    expect((await jobs.activeJobs(1000)).map((j) => j.id)).not.toContain(job.id);
  });
});

describe('listing codes', () => {
  test('pages through a plan’s codes with a cursor, by job and by status', async () => {
    const job = queuedJob({ quantity: 230, planId: 'pln_list' });
    const other = queuedJob({ quantity: 20, planId: 'pln_list' });
    for (const j of [job, other]) {
      await jobs.createJob(j);
      await codes.storeCodes(j, slots(j.quantity), derivedCode, now());
    }
    const seen: string[] = [];
    let after: CodePosition | undefined;
    let pages = 0;
    do {
      const page = await codes.listCodes('pln_list', { jobId: job.id, asOf: now() }, { limit: 100, ...(after ? { after } : {}) });
      seen.push(...page.codes.map((c) => c.code));
      after = page.next ?? undefined;
      pages++;
    } while (after);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(230);
    expect(seen.sort()).toEqual((await codes.jobCodes(job.id)).map((c) => c.code).sort());

    expect((await codes.listCodes('pln_list', { asOf: now() }, { limit: 500 })).codes).toHaveLength(250);
    expect((await codes.listCodes('pln_list', { status: 'redeemed', asOf: now() }, { limit: 500 })).codes).toHaveLength(0);
  });

  test('filters by the status as shown: past its expiry an active code is expired', async () => {
    const job = queuedJob({ quantity: 3, planId: 'pln_expiry', expiresAt: '2026-12-01T00:00:00.000Z' });
    await jobs.createJob(job);
    await codes.storeCodes(job, slots(3), derivedCode, now());
    const list = (status: 'active' | 'expired', asOf: string) =>
      codes.listCodes('pln_expiry', { status, asOf: new Date(asOf) }, { limit: 10 }).then((page) => page.codes.length);
    expect([await list('active', '2026-11-30T23:59:59Z'), await list('expired', '2026-11-30T23:59:59Z')]).toEqual([3, 0]);
    expect([await list('active', '2026-12-01T00:00:00Z'), await list('expired', '2026-12-01T00:00:00Z')]).toEqual([0, 3]);
  });

  test('refuses a position that does not belong to the listing', async () => {
    const list = (after: CodePosition, filter: { jobId?: string; status?: 'expired' } = {}) =>
      codes.listCodes('pln_list', { ...filter, asOf: now() }, { limit: 10, after });
    await expect(list({ part: 2, after: null }, { status: 'expired' })).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(list({ part: -1, after: null })).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(list({ part: 0, after: 'ZZZ' })).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(list({ part: 0, after: '' })).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(list({ part: 0, after: 'CODE#mjb_other#000001' }, { jobId: 'mjb_this' })).rejects.toBeInstanceOf(InvalidCursorError);
  });
});
