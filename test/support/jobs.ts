import { newId } from '../../functions/domain/ids';
import { newQueuedJob, type ExportType, type Job } from '../../functions/domain/jobs';

/** A queued job as bulk-generate would write it, with any field overridden. */
export const queuedJob = (overrides: Partial<Job> & { quantity: number }, exportType: ExportType = 'file'): Job => ({
  ...newQueuedJob(
    {
      id: newId('job'),
      batchId: newId('batch'),
      teamId: 'tea_test',
      projectId: 'prj_test',
      planId: 'pln_test',
      planName: 'Test plan',
      quantity: overrides.quantity,
      exportType,
      expiryPreset: 'no_expiry',
      expiresAt: null,
      telegramChatId: '4242',
    },
    new Date(),
  ),
  ...overrides,
});
