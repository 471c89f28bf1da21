import { newId } from '../../functions/domain/ids';
import { chunkCountOf, type ExportType, type Job } from '../../functions/domain/jobs';

/** A queued job as bulk-generate would write it. */
export const queuedJob = (overrides: Partial<Job> & { quantity: number }, exportType: ExportType = 'file'): Job => {
  const now = new Date().toISOString();
  return {
    id: newId('job'),
    batchId: newId('batch'),
    teamId: 'tea_test',
    projectId: 'prj_test',
    planId: 'pln_test',
    planName: 'Test plan',
    exportType,
    expiryPreset: 'no_expiry',
    expiresAt: null,
    telegramChatId: '4242',
    status: 'queued',
    chunkCount: chunkCountOf(overrides.quantity),
    generatedCount: 0,
    deliveredCount: 0,
    generatedAt: null,
    failure: null,
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    completedAt: null,
    requeues: 0,
    requeuedAt: null,
    requeueMarker: null,
    leaseOwner: null,
    leaseUntil: null,
    ...overrides,
  };
};
