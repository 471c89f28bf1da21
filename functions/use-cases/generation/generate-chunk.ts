import { derivedCode, type CodeGenerator } from '../../domain/access-codes';
import { EVENT_API_VERSION, type AccessCodeGeneratedData, type EventEnvelope } from '../../contracts/events';
import { deliverMessage, type DeliverMessage } from '../../contracts/queue-messages';
import { newId } from '../../domain/ids';
import type { CodeStore, JobStore } from '../../domain/ports';
import { chunkSlots, isTerminal, type Job } from '../../domain/jobs';
import type { Clock, MessageQueue, Pace } from '../../domain/ports';

/** Dependencies of the generator. */
export interface GenerateDeps {
  jobs: JobStore;
  codes: CodeStore;
  /** The delivery queue, where a generated job goes next. */
  deliveries: MessageQueue<DeliverMessage>;
  clock: Clock;
  /** How a slot's candidates are derived from the job's seed; `derivedCode` unless a test shrinks the code space. */
  generateCode?: CodeGenerator;
  /** The write pace of this process's code writes (in Lambda, `GENERATOR.codesPerSecond`); unpaced without. */
  pace?: Pace;
}

/**
 * A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. Callers that take
 * more than there is wait their turn, in order, so the rate holds however many ask at once.
 */
export class TokenBucket implements Pace {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst = ratePerSecond,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(count: number): Promise<void> {
    const turn = this.queue.then(async () => {
      this.refill();
      if (this.tokens < count) {
        await this.sleep(((count - this.tokens) / this.ratePerSecond) * 1000);
        this.refill();
      }
      this.tokens -= count;
    });
    this.queue = turn;
    return turn;
  }

  private refill(): void {
    const at = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((at - this.last) / 1000) * this.ratePerSecond);
    this.last = at;
  }
}

/** The access_code.generated event of a job's batch. */
export const generatedEvent = (job: Job, now: Date): EventEnvelope<AccessCodeGeneratedData> => ({
  id: newId('event'),
  type: 'access_code.generated',
  created_at: now.toISOString(),
  api_version: EVENT_API_VERSION,
  project_id: job.projectId,
  data: { batch_id: job.batchId, plan_id: job.planId, count: job.quantity, expires_at: job.expiresAt },
});

/** What one run of a chunk did: the codes it stored (a slot filled before is not stored again). */
export interface ChunkRun {
  codesStored: number;
}

/**
 * Generates one chunk of a job. Safe to run twice, or concurrently with itself.
 * 1. Skip jobs that ended; mark a queued job processing.
 * 2. Store a unique code in every slot of the chunk not filled yet (paced by `deps.pace`).
 * 3. When the whole batch is stored, mark it generated together with its access_code.generated
 *    event (exactly one caller wins), then queue its delivery on the delivery queue (a duplicate
 *    is harmless: delivery runs under a lease and resumes from its persisted cursor; a lost one
 *    is queued again by the job sweeper).
 * `done` is filled as the codes are stored, so a caller that hands one in reads what was stored
 * even when a later step throws.
 */
export const generateChunk = async (deps: GenerateDeps, jobId: string, chunk: number, done: ChunkRun = { codesStored: 0 }): Promise<ChunkRun> => {
  const job = await deps.jobs.getJob(jobId);
  if (!job || isTerminal(job.status)) return done;
  if (job.status === 'queued') await deps.jobs.markProcessing(jobId, deps.clock.now());
  if (!job.generatedAt) {
    done.codesStored += await deps.codes.storeCodes(job, chunkSlots(job.quantity, chunk), deps.generateCode ?? derivedCode, deps.clock.now(), deps.pace);
    if ((await deps.jobs.countStored(jobId)) < job.quantity) return done;
    const now = deps.clock.now();
    await deps.jobs.markGenerated(jobId, generatedEvent(job, now), now);
  }
  await deps.deliveries.send([{ body: deliverMessage(jobId) }]);
  return done;
};
