import type { ExpiryPreset } from './expiry';

/** How the codes reach the creator. */
export type ExportType = 'file' | 'messages';

/** Public lifecycle of a job: a job the API acknowledged always ends completed or failed. */
export type JobStatus = 'queued' | 'processing' | 'completed' | 'failed';

/** Why a job failed, for machines (`code`) and people (`message`). */
export interface JobFailure {
  code: string;
  message: string;
}

/** Codes generated per queue message; a job of N codes is ceil(N / CHUNK_SIZE) messages. */
export const CHUNK_SIZE = 250;

/** A bulk-generation job: one API call, one batch of codes. */
export interface Job {
  id: string;
  batchId: string;
  teamId: string;
  projectId: string;
  planId: string;
  planName: string;
  quantity: number;
  exportType: ExportType;
  expiryPreset: ExpiryPreset;
  expiresAt: string | null;
  /** The creator's chat at enqueue time: where this batch is delivered. */
  telegramChatId: string;
  status: JobStatus;
  chunkCount: number;
  deliveredCount: number;
  /** Set once every code is stored and access_code.generated is committed. */
  generatedAt: string | null;
  failure: JobFailure | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  /** Pushes by the sweeper in a row without progress in between. */
  requeues: number;
  /** When the sweeper last pushed the job on, if ever. */
  requeuedAt: string | null;
  /** The job's `updatedAt` when the sweeper last pushed it: unchanged since means no progress. */
  requeueMarker: string | null;
  leaseOwner: string | null;
  leaseUntil: string | null;
}

/** What a caller decides about a new job; everything else starts empty. */
export type NewJobFields = Pick<
  Job,
  'id' | 'batchId' | 'teamId' | 'projectId' | 'planId' | 'planName' | 'quantity' | 'exportType' | 'expiryPreset' | 'expiresAt' | 'telegramChatId'
>;

/** A job as it is first written: queued, nothing generated or delivered. */
export const newQueuedJob = (fields: NewJobFields, now: Date): Job => ({
  ...fields,
  status: 'queued',
  chunkCount: chunkCountOf(fields.quantity),
  deliveredCount: 0,
  generatedAt: null,
  failure: null,
  createdAt: now.toISOString(),
  updatedAt: now.toISOString(),
  startedAt: null,
  completedAt: null,
  requeues: 0,
  requeuedAt: null,
  requeueMarker: null,
  leaseOwner: null,
  leaseUntil: null,
});

/** True for the end states. */
export const isTerminal = (status: JobStatus): boolean => status === 'completed' || status === 'failed';

/** Slot numbers [from, to) of chunk `chunk` of a job of `quantity` codes. */
export const chunkSlots = (quantity: number, chunk: number): number[] => {
  const from = chunk * CHUNK_SIZE;
  const to = Math.min(quantity, from + CHUNK_SIZE);
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
};

/** Number of chunks of a job. */
export const chunkCountOf = (quantity: number): number => Math.ceil(quantity / CHUNK_SIZE);

/** The public view of a job (get_job_status), with the codes stored so far. */
export const jobView = (job: Job, generatedCount: number) => ({
  job_id: job.id,
  status: job.status,
  plan_id: job.planId,
  batch_id: job.batchId,
  quantity: job.quantity,
  export_type: job.exportType,
  expiry_preset: job.expiryPreset,
  expires_at: job.expiresAt,
  generated_count: generatedCount,
  delivered_count: job.deliveredCount,
  enqueued_at: job.createdAt,
  started_at: job.startedAt,
  generated_at: job.generatedAt,
  completed_at: job.completedAt,
  updated_at: job.updatedAt,
  failure: job.failure,
});
