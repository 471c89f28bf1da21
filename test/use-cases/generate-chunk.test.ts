import type { DeliverMessage } from '../../functions/contracts/queue-messages';
import { ResourceNotFoundError } from '../../functions/domain/errors';
import type { MessageQueue } from '../../functions/domain/ports';
import { generateChunk } from '../../functions/use-cases/generation/generate-chunk';
import { getJobStatus } from '../../functions/use-cases/jobs-and-codes';
import { FakeClock } from '../support/clock';
import { inMemoryJobAndCodeStores } from '../support/job-code-doubles';
import { queuedJob } from '../support/jobs';

// Generating a job's chunks and reading its status, over the in-memory job and code stores
// (their contract suites run the same cases over DynamoDB: test/adapters/{job,code}-store-contract.test.ts).

const T0 = new Date('2030-01-01T00:00:00.000Z');
const TEAM = 'tea_01HX0000000000000000000001';
const principal = { tokenId: 'tok_1', teamId: TEAM, abilities: [] };

const setUp = async (quantity: number) => {
  const { table, jobs, codes } = inMemoryJobAndCodeStores();
  const clock = new FakeClock(T0);
  const queued: DeliverMessage[] = [];
  const deliveries: MessageQueue<DeliverMessage> = { send: async (messages) => void queued.push(...messages.map((m) => m.body)) };
  const job = queuedJob({ quantity, teamId: TEAM, createdAt: T0.toISOString(), updatedAt: T0.toISOString() });
  await jobs.createJob(job);
  const deps = { jobs, codes, deliveries, clock };
  const status = () => getJobStatus({ jobs }, principal, job.id);
  const generatedEvents = () => table.events.filter((event) => event.type === 'access_code.generated');
  return { deps, job, clock, queued, status, generatedEvents, codes, jobs };
};

describe('generating a job chunk by chunk', () => {
  test('the status counts the codes stored so far; the last chunk marks the batch generated, with one event, and queues its delivery', async () => {
    const { deps, job, clock, queued, status, generatedEvents } = await setUp(260);
    expect(await status()).toMatchObject({ status: 'queued', generated_count: 0, generated_at: null, started_at: null });

    clock.advance(1000);
    expect(await generateChunk(deps, job.id, 1)).toEqual({ codesStored: 10 });
    expect(await status()).toMatchObject({ status: 'processing', generated_count: 10, generated_at: null, started_at: '2030-01-01T00:00:01.000Z' });
    expect(queued).toEqual([]);

    clock.advance(1000);
    expect(await generateChunk(deps, job.id, 0)).toEqual({ codesStored: 250 });
    expect(await status()).toMatchObject({ status: 'processing', generated_count: 260, generated_at: '2030-01-01T00:00:02.000Z' });
    expect(generatedEvents()).toHaveLength(1);
    expect(generatedEvents()[0]!.data).toEqual({ batch_id: job.batchId, plan_id: job.planId, count: 260, expires_at: null });
    expect(queued).toEqual([{ kind: 'deliver', job_id: job.id, hops: 0 }]);
  });

  test('a redelivered chunk stores nothing and commits no second event; its delivery message is queued again (harmless under the lease)', async () => {
    const { deps, job, queued, generatedEvents, codes } = await setUp(3);
    await generateChunk(deps, job.id, 0);
    const stored = await codes.jobCodes(job.id);

    expect(await generateChunk(deps, job.id, 0)).toEqual({ codesStored: 0 });
    expect(await codes.jobCodes(job.id)).toEqual(stored);
    expect(generatedEvents()).toHaveLength(1);
    expect(queued).toHaveLength(2);
  });

  test('the last chunk running twice at once stores each code once and marks the batch generated once', async () => {
    const { deps, job, generatedEvents, status } = await setUp(30);
    const runs = await Promise.all([generateChunk(deps, job.id, 0), generateChunk(deps, job.id, 0)]);
    expect(runs[0]!.codesStored + runs[1]!.codesStored).toBe(30);
    expect(generatedEvents()).toHaveLength(1);
    expect((await status()).generated_count).toBe(30);
  });

  test('a job that ended is left alone; another team’s job answers like a missing one', async () => {
    const { deps, job, jobs, codes, queued } = await setUp(3);
    await jobs.failJob(job.id, { code: 'plan_deleted', message: 'gone' }, T0);
    expect(await generateChunk(deps, job.id, 0)).toEqual({ codesStored: 0 });
    expect(await codes.jobCodes(job.id)).toEqual([]);
    expect(queued).toEqual([]);

    await expect(getJobStatus({ jobs }, { ...principal, teamId: 'tea_other' }, job.id)).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(getJobStatus({ jobs }, principal, 'mjb_never_created')).rejects.toBeInstanceOf(ResourceNotFoundError);
  });
});
