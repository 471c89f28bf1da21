import { DynamoJobStore } from '../../functions/adapters/dynamodb/job-store';
import type { JobQueue } from '../../functions/domain/ports';
import type { PipelineMessage } from '../../functions/contracts/queue-messages';
import { DynamoChatLeases } from '../../functions/adapters/dynamodb/chat-leases';
import { STALE_AFTER_MS, sweepStalledJobs } from '../../functions/use-cases/job-sweeper';
import { FakeClock } from '../support/clock';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { queuedJob } from '../support/jobs';

let table: TestTable;
let jobs: DynamoJobStore;
beforeAll(async () => {
  table = await createTestTable();
  jobs = new DynamoJobStore(table.db, table.tableName);
});
afterAll(async () => table?.drop());

const T0 = new Date('2026-05-18T10:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000).toISOString();

/** A queue that only records what the sweeper queued. */
const recordingQueue = () => {
  const sent: PipelineMessage[] = [];
  const queue: JobQueue = { send: async (messages) => void sent.push(...messages.map((message) => message.body)) };
  return { queue, sent };
};

describe('the sweeper with many jobs under way', () => {
  // A sweep reads every page of the active jobs, so busy older jobs (a 1000-message delivery
  // takes ~17 min) cannot hide a newer one that lost its enqueue.
  test('still finds a stale job behind 200 older jobs that are busy', async () => {
    const busy = Array.from({ length: 200 }, () => queuedJob({ quantity: 1, status: 'processing', createdAt: at(0), updatedAt: at(3.5) }));
    const stuck = queuedJob({ quantity: 1, createdAt: at(1), updatedAt: at(1) });
    for (let i = 0; i < busy.length; i += 25) await Promise.all(busy.slice(i, i + 25).map((job) => jobs.createJob(job)));
    await jobs.createJob(stuck);
    const { queue, sent } = recordingQueue();

    // At 10:04 the busy jobs moved 30 s ago; the stuck one has not moved for 3 minutes.
    const clock = new FakeClock(new Date(at(4)));
    expect(new Date(at(4)).getTime() - new Date(at(1)).getTime()).toBeGreaterThan(STALE_AFTER_MS);
    const swept = await sweepStalledJobs({ jobs, queue, deliveries: queue, chats: new DynamoChatLeases(table.db, table.tableName), clock });

    expect(swept.requeued).toEqual([stuck.id]);
    expect(sent).toEqual([{ kind: 'generate-chunk', job_id: stuck.id, chunk: 0 }]);
  });
});
