import type { Job } from '../../functions/domain/jobs';
import type { IdempotencyClaim } from '../../functions/domain/ports';
import { generatedEvent } from '../../functions/use-cases/generation/generate-chunk';
import { jobCodeImplementations, type JobCodeHarness } from '../support/job-code-store-harness';
import { queuedJob } from '../support/jobs';

// One contract, two implementations of the job store: InMemoryJobStore and DynamoJobStore on
// DynamoDB Local. A case that passes on one and fails on the other is a double that drifted.
// The cases share one store and tell their jobs apart by id; the listing of active jobs reads
// jobs created long before any other case's, so the others' do not show in it.

const { implementations, dropTables } = jobCodeImplementations();
afterAll(dropTables);

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
let counter = 0;
/** A team no other case uses (idempotency keys are scoped by team). */
const aTeam = () => `tea_jobs_${Date.now()}_${++counter}`;
const claimOf = (teamId: string, requestHash: string, expiresAt = at(86_400_000)): IdempotencyClaim => ({ teamId, key: 'key-1', requestHash, expiresAt });

describe.each(implementations)('the job store (%s)', (_name, open) => {
  let h: JobCodeHarness;
  beforeAll(async () => {
    h = await open();
  });

  /** A job moved to processing and marked generated: ready for delivery. */
  const generatedJob = async (overrides: Partial<Job> = {}) => {
    const job = queuedJob({ quantity: 3, ...overrides });
    await h.jobs.createJob(job);
    await h.jobs.markProcessing(job.id, T0);
    if (!(await h.jobs.markGenerated(job.id, generatedEvent(job, T0), T0))) throw new Error('could not mark the job generated');
    return job;
  };

  test('a new job reads back as written; an unknown one is undefined; a second job under the same id is refused and changes nothing', async () => {
    const job = queuedJob({ quantity: 7, expiresAt: '2030-02-01T00:00:00.000Z', expiryPreset: 'custom' });
    expect(await h.jobs.createJob(job)).toEqual({ outcome: 'created' });
    expect(await h.jobs.getJob(job.id)).toEqual(job);
    expect(await h.jobs.getJob('mjb_unknown')).toBeUndefined();

    await expect(h.jobs.createJob({ ...job, quantity: 8 })).rejects.toThrow();
    expect(await h.jobs.getJob(job.id)).toEqual(job);
  });

  test('under an Idempotency-Key: created once, the same request replays the first job, another request is refused; neither later job is written', async () => {
    const team = aTeam();
    const first = queuedJob({ quantity: 5, teamId: team });
    const replay = queuedJob({ quantity: 5, teamId: team });
    const other = queuedJob({ quantity: 6, teamId: team });
    expect(await h.jobs.createJob(first, claimOf(team, 'h1'))).toEqual({ outcome: 'created' });
    expect(await h.jobs.createJob(replay, claimOf(team, 'h1'))).toEqual({ outcome: 'replayed', jobId: first.id });
    expect(await h.jobs.createJob(other, claimOf(team, 'h2'))).toEqual({ outcome: 'key-reused' });
    expect(await h.jobs.getJob(replay.id)).toBeUndefined();
    expect(await h.jobs.getJob(other.id)).toBeUndefined();

    // The same key of another team is another key.
    const otherTeam = aTeam();
    expect(await h.jobs.createJob(queuedJob({ quantity: 5, teamId: otherTeam }), claimOf(otherTeam, 'h1'))).toEqual({ outcome: 'created' });
  });

  test('a claim is honoured up to its expiry instant, the instant included, and taken again by a job created after it', async () => {
    const team = aTeam();
    const expiresAt = at(60_000);
    const first = queuedJob({ quantity: 1, teamId: team, createdAt: T0.toISOString(), updatedAt: T0.toISOString() });
    expect(await h.jobs.createJob(first, claimOf(team, 'a', expiresAt))).toEqual({ outcome: 'created' });

    const atExpiry = queuedJob({ quantity: 1, teamId: team, createdAt: expiresAt.toISOString() });
    expect(await h.jobs.createJob(atExpiry, claimOf(team, 'b', at(120_000)))).toEqual({ outcome: 'key-reused' });

    const after = queuedJob({ quantity: 1, teamId: team, createdAt: at(60_001).toISOString() });
    expect(await h.jobs.createJob(after, claimOf(team, 'b', at(120_000)))).toEqual({ outcome: 'created' });
    expect(await h.jobs.createJob(queuedJob({ quantity: 1, teamId: team, createdAt: at(60_002).toISOString() }), claimOf(team, 'b'))).toEqual({
      outcome: 'replayed',
      jobId: after.id,
    });
  });

  test('two requests racing under one key: exactly one job is created, and the other does not create one', async () => {
    const team = aTeam();
    const racers = [queuedJob({ quantity: 2, teamId: team }), queuedJob({ quantity: 2, teamId: team })];
    const results = await Promise.allSettled(racers.map((job) => h.jobs.createJob(job, claimOf(team, 'same'))));
    const created = results.flatMap((result, i) => (result.status === 'fulfilled' && result.value.outcome === 'created' ? [racers[i]!] : []));
    expect(created).toHaveLength(1);
    // The loser is told the winner's job (or, on DynamoDB, may meet the winner's transaction and fail: the caller retries).
    for (const result of results) {
      if (result.status === 'fulfilled' && result.value.outcome !== 'created') expect(result.value).toEqual({ outcome: 'replayed', jobId: created[0]!.id });
    }
    const stored = await Promise.all(racers.map((job) => h.jobs.getJob(job.id)));
    expect(stored.filter(Boolean).map((job) => job!.id)).toEqual([created[0]!.id]);
  });

  test('queued → processing once, with its start time; a no-op on a job in any other state or on no job', async () => {
    const job = queuedJob({ quantity: 1 });
    await h.jobs.createJob(job);
    await h.jobs.markProcessing(job.id, T0);
    expect(await h.jobs.getJob(job.id)).toMatchObject({ status: 'processing', startedAt: T0.toISOString(), updatedAt: T0.toISOString() });
    await h.jobs.markProcessing(job.id, at(1000));
    expect(await h.jobs.getJob(job.id)).toMatchObject({ status: 'processing', startedAt: T0.toISOString(), updatedAt: T0.toISOString() });

    const failed = queuedJob({ quantity: 1 });
    await h.jobs.createJob(failed);
    await h.jobs.failJob(failed.id, { code: 'x', message: 'y' }, T0);
    await h.jobs.markProcessing(failed.id, at(1000));
    expect((await h.jobs.getJob(failed.id))?.status).toBe('failed');

    await h.jobs.markProcessing('mjb_never_created', T0);
    expect(await h.jobs.getJob('mjb_never_created')).toBeUndefined();
  });

  test('marks a processing job generated for exactly one of three racing callers, with exactly one access_code.generated event; never a queued, failed or unknown job', async () => {
    const job = queuedJob({ quantity: 4 });
    await h.jobs.createJob(job);
    expect(await h.jobs.markGenerated(job.id, generatedEvent(job, T0), T0)).toBe(false);
    await h.jobs.markProcessing(job.id, T0);

    const events = [1, 2, 3].map((n) => generatedEvent(job, at(n)));
    const results = await Promise.all(events.map((event, i) => h.jobs.markGenerated(job.id, event, at(i + 1))));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    expect(await h.jobs.getJob(job.id)).toMatchObject({ status: 'processing', generatedAt: at(winner + 1).toISOString(), updatedAt: at(winner + 1).toISOString() });
    expect(await h.generatedEvents(job.batchId)).toEqual([events[winner]]);
    expect(await h.jobs.markGenerated(job.id, generatedEvent(job, at(9)), at(9))).toBe(false);

    const failed = queuedJob({ quantity: 1 });
    await h.jobs.createJob(failed);
    await h.jobs.markProcessing(failed.id, T0);
    await h.jobs.failJob(failed.id, { code: 'x', message: 'y' }, T0);
    expect(await h.jobs.markGenerated(failed.id, generatedEvent(failed, T0), T0)).toBe(false);
    expect(await h.jobs.markGenerated('mjb_never_created', generatedEvent(failed, T0), T0)).toBe(false);
    expect(await h.generatedEvents(failed.batchId)).toEqual([]);
  });

  test('the delivery lease: only on a generated job, one holder up to its until instant included, then anyone; progress and completion fenced on the holder', async () => {
    const notGenerated = queuedJob({ quantity: 3 });
    await h.jobs.createJob(notGenerated);
    await h.jobs.markProcessing(notGenerated.id, T0);
    expect(await h.jobs.acquireDeliveryLease(notGenerated.id, 'a', at(1000), T0)).toBeUndefined();

    const job = await generatedJob();
    const leased = await h.jobs.acquireDeliveryLease(job.id, 'a', at(1000), T0);
    expect(leased).toMatchObject({ id: job.id, status: 'processing', leaseOwner: 'a', leaseUntil: at(1000).toISOString(), deliveredCount: 0 });
    expect(await h.jobs.acquireDeliveryLease(job.id, 'b', at(5000), at(1000))).toBeUndefined();
    // The holder takes it again, later.
    expect((await h.jobs.acquireDeliveryLease(job.id, 'a', at(2000), at(500)))?.leaseUntil).toBe(at(2000).toISOString());
    expect(await h.jobs.recordDelivered(job.id, 'a', 1, at(600))).toBe(true);
    expect(await h.jobs.recordDelivered(job.id, 'b', 3, at(600))).toBe(false);
    expect(await h.jobs.getJob(job.id)).toMatchObject({ deliveredCount: 1, updatedAt: at(600).toISOString() });

    // Lapsed: b takes it and sees a's progress; a is fenced out.
    expect(await h.jobs.acquireDeliveryLease(job.id, 'b', at(5000), at(2001))).toMatchObject({ leaseOwner: 'b', deliveredCount: 1 });
    expect(await h.jobs.recordDelivered(job.id, 'a', 2, at(2100))).toBe(false);
    expect(await h.jobs.completeJob(job.id, 'a', at(2100))).toBe(false);

    // A release by one who does not hold it changes nothing; the holder's frees it at once.
    await h.jobs.releaseLease(job.id, 'a');
    expect(await h.jobs.acquireDeliveryLease(job.id, 'c', at(6000), at(2200))).toBeUndefined();
    await h.jobs.releaseLease(job.id, 'b');
    expect(await h.jobs.recordDelivered(job.id, 'b', 2, at(2250))).toBe(false);
    expect(await h.jobs.acquireDeliveryLease(job.id, 'c', at(6000), at(2300))).toMatchObject({ leaseOwner: 'c' });

    expect(await h.jobs.completeJob(job.id, 'c', at(3000))).toBe(true);
    expect(await h.jobs.getJob(job.id)).toMatchObject({
      status: 'completed',
      completedAt: at(3000).toISOString(),
      updatedAt: at(3000).toISOString(),
      deliveredCount: 3,
      leaseOwner: null,
      leaseUntil: null,
    });
    expect(await h.jobs.completeJob(job.id, 'c', at(3001))).toBe(false);
    expect(await h.jobs.acquireDeliveryLease(job.id, 'c', at(9000), at(9000))).toBeUndefined();
  });

  test('two owners racing for a free lease: exactly one gets it', async () => {
    const job = await generatedJob();
    const results = await Promise.all(['a', 'b', 'c'].map((owner) => h.jobs.acquireDeliveryLease(job.id, owner, at(1000), T0)));
    const winners = results.filter((result) => result !== undefined);
    expect(winners).toHaveLength(1);
    expect((await h.jobs.getJob(job.id))?.leaseOwner).toBe(winners[0]!.leaseOwner);
  });

  test('fails a queued or processing job once, with its failure, dropping its lease; never an ended or unknown job', async () => {
    const queued = queuedJob({ quantity: 1 });
    await h.jobs.createJob(queued);
    expect(await h.jobs.failJob(queued.id, { code: 'plan_deleted', message: 'gone' }, at(10))).toBe(true);
    expect(await h.jobs.getJob(queued.id)).toMatchObject({
      status: 'failed',
      failure: { code: 'plan_deleted', message: 'gone' },
      completedAt: at(10).toISOString(),
      updatedAt: at(10).toISOString(),
    });
    expect(await h.jobs.failJob(queued.id, { code: 'other', message: 'again' }, at(20))).toBe(false);
    expect((await h.jobs.getJob(queued.id))?.failure).toEqual({ code: 'plan_deleted', message: 'gone' });

    const leased = await generatedJob();
    await h.jobs.acquireDeliveryLease(leased.id, 'a', at(1000), T0);
    expect(await h.jobs.failJob(leased.id, { code: 'chat_gone', message: 'x' }, at(10))).toBe(true);
    expect(await h.jobs.getJob(leased.id)).toMatchObject({ status: 'failed', leaseOwner: null, leaseUntil: null });
    expect(await h.jobs.recordDelivered(leased.id, 'a', 1, at(20))).toBe(false);

    const completed = await generatedJob();
    await h.jobs.acquireDeliveryLease(completed.id, 'a', at(1000), T0);
    await h.jobs.completeJob(completed.id, 'a', at(10));
    expect(await h.jobs.failJob(completed.id, { code: 'x', message: 'y' }, at(20))).toBe(false);
    expect((await h.jobs.getJob(completed.id))?.status).toBe('completed');
    expect(await h.jobs.failJob('mjb_never_created', { code: 'x', message: 'y' }, T0)).toBe(false);
  });

  test('lists unended jobs oldest first up to the limit, the limit itself included; an ended job leaves the list', async () => {
    // Created long before every other case's jobs: the oldest active jobs of the store.
    const old = (second: number) => queuedJob({ quantity: 1, createdAt: `2000-01-01T00:00:0${second}.000Z`, updatedAt: `2000-01-01T00:00:0${second}.000Z` });
    const [a, b, c, d] = [old(4), old(1), old(3), old(2)];
    for (const job of [a!, b!, c!, d!]) await h.jobs.createJob(job);
    await h.jobs.markProcessing(c!.id, T0);
    await h.jobs.failJob(d!.id, { code: 'x', message: 'y' }, T0);

    const ids = async (limit: number) => (await h.jobs.activeJobs(limit)).map((job) => job.id);
    expect(await ids(3)).toEqual([b!.id, c!.id, a!.id]);
    expect(await ids(2)).toEqual([b!.id, c!.id]);
    expect((await h.jobs.activeJobs(1))[0]).toEqual(await h.jobs.getJob(b!.id));

    const done = await generatedJob({ createdAt: '2000-01-01T00:00:00.000Z' });
    expect(await ids(1)).toEqual([done.id]);
    await h.jobs.acquireDeliveryLease(done.id, 'a', at(1000), T0);
    await h.jobs.completeJob(done.id, 'a', at(10));
    await h.jobs.failJob(b!.id, { code: 'x', message: 'y' }, T0);
    expect(await ids(2)).toEqual([c!.id, a!.id]);
  });

  test('a requeue records the streak, when and the updatedAt seen, and leaves updatedAt alone', async () => {
    const job = queuedJob({ quantity: 1 });
    await h.jobs.createJob(job);
    await h.jobs.recordRequeue(job.id, at(5000), 2, job.updatedAt);
    expect(await h.jobs.getJob(job.id)).toEqual({ ...job, requeues: 2, requeuedAt: at(5000).toISOString(), requeueMarker: job.updatedAt });
  });
});
