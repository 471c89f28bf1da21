import { maskCode, randomCode } from '../../functions/domain/access-codes';
import { ResourceNotFoundError, ValidationFailedError } from '../../functions/domain/errors';
import type { BatchRef } from '../../functions/domain/expiry-sweep';
import { cutBatchExpiry } from '../../functions/use-cases/batch-expiry';
import { sweepExpiredCodes } from '../../functions/use-cases/expiry-sweep';
import { FakeClock } from '../support/clock';
import { InMemoryExpiryStore } from '../support/expiry-doubles';
import { queuedJob } from '../support/jobs';

// Cutting a batch's expiry short and the expiry sweep, over the in-memory expiry store (its
// contract suite runs the same cases over DynamoDB: test/adapters/expiry-store.test.ts). The
// pipeline tests (test/pipeline/expiry-sweep.test.ts) run them over DynamoDB Local with redemption.

const T0 = new Date('2026-12-03T12:00:00.000Z');
const HOUR = 3_600_000;
const TEAM = 'tea_01HX0000000000000000000001';

const setUp = (quantity: number, options: { expiresAt?: Date | null; generated?: boolean } = {}) => {
  const store = new InMemoryExpiryStore();
  const clock = new FakeClock(T0);
  const job = queuedJob({ quantity, teamId: TEAM, expiresAt: options.expiresAt?.toISOString() ?? null });
  const batch: BatchRef = { batchId: job.batchId, jobId: job.id, teamId: TEAM, projectId: job.projectId, planId: job.planId, expiresAt: job.expiresAt, generated: false };
  const codes = Array.from({ length: quantity }, () => randomCode());
  store.addBatch(batch, codes);
  if (options.generated ?? true) store.markGenerated(batch.batchId);
  const statuses = () => codes.map((code) => store.code(code)!.status);
  return { store, clock, batch, codes, statuses };
};

describe('cutting a batch’s expiry short', () => {
  test('to now: the unredeemed codes expire at once, one event each at the new expiry; the same call again changes nothing and answers the count', async () => {
    const { store, clock, batch, codes, statuses } = setUp(6, { expiresAt: new Date(T0.getTime() + 24 * HOUR) });
    store.redeem(codes[0]!);
    store.redeem(codes[1]!);

    const cut = await cutBatchExpiry({ expiry: store, clock }, { batchId: batch.batchId, teamId: TEAM });
    clock.advance(60_000);
    const again = await cutBatchExpiry({ expiry: store, clock }, { batchId: batch.batchId, expiresAt: 'now', teamId: TEAM });

    expect(cut).toEqual({ batch_id: batch.batchId, expires_at: T0.toISOString(), changed: true, status: 'completed', codes_affected: 4 });
    expect(again).toEqual({ ...cut, changed: false });
    expect(statuses()).toEqual(['redeemed', 'redeemed', 'expired', 'expired', 'expired', 'expired']);
    expect(store.events.map((e) => (e.data as { access_code: string }).access_code).sort()).toEqual(codes.slice(2).map(maskCode).sort());
    expect(store.events.every((e) => e.created_at === T0.toISOString() && (e.data as { expires_at: string }).expires_at === T0.toISOString())).toBe(true);
  });

  test('with no time to move codes inline it answers in progress; the sweep moves the rest over several steps and the answer then says completed', async () => {
    const { store, clock, batch, statuses } = setUp(120);

    const answer = await cutBatchExpiry({ expiry: store, clock, inlineMoveMs: 0 }, { batchId: batch.batchId, expiresAt: 'now' });
    expect(answer).toEqual({ batch_id: batch.batchId, expires_at: T0.toISOString(), changed: true, status: 'in_progress', codes_affected: 0 });
    expect(await store.pendingBatchExpiries(10)).toHaveLength(1);

    clock.advance(60_000);
    const run = await sweepExpiredCodes({ expiry: store, clock });

    expect(run).toMatchObject({ batchExpiriesCompleted: 1, batchCodesMoved: 120, expired: 0, backlogLeft: false });
    expect(statuses()).toEqual(Array(120).fill('expired'));
    expect(store.events).toHaveLength(120);
    expect(await store.pendingBatchExpiries(10)).toEqual([]);
    expect(await cutBatchExpiry({ expiry: store, clock }, { batchId: batch.batchId, expiresAt: T0.toISOString() })).toEqual({ ...answer, changed: false, status: 'completed', codes_affected: 120 });
  });

  test('a time at or after the batch’s own expiry changes nothing; the sweep expires the codes at that expiry, not before', async () => {
    const own = new Date(T0.getTime() + HOUR);
    const { store, clock, batch, statuses } = setUp(3, { expiresAt: own });

    expect(await cutBatchExpiry({ expiry: store, clock }, { batchId: batch.batchId, expiresAt: own.toISOString() })).toEqual({
      batch_id: batch.batchId,
      expires_at: own.toISOString(),
      changed: false,
      status: 'completed',
      codes_affected: 0,
    });
    expect(await store.batchExpiry(batch.batchId)).toBeUndefined();

    clock.set(new Date(own.getTime() - 1));
    expect((await sweepExpiredCodes({ expiry: store, clock })).expired).toBe(0);
    clock.set(own);
    expect(await sweepExpiredCodes({ expiry: store, clock })).toMatchObject({ expired: 3, backlogLeft: false });
    expect(statuses()).toEqual(['expired', 'expired', 'expired']);
  });

  test('another team’s, an unknown or a malformed batch is not found; a batch still generating and a bad time are refused; nothing is recorded', async () => {
    const { store, clock, batch, statuses } = setUp(2, { generated: false });
    const deps = { expiry: store, clock };

    await expect(cutBatchExpiry(deps, { batchId: batch.batchId, teamId: 'tea_01HX0000000000000000000009' })).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(cutBatchExpiry(deps, { batchId: 'btc_01HX0000000000000000000000' })).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(cutBatchExpiry(deps, { batchId: 'not-a-batch' })).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(cutBatchExpiry(deps, { batchId: batch.batchId, teamId: TEAM })).rejects.toBeInstanceOf(ValidationFailedError);
    store.markGenerated(batch.batchId);
    await expect(cutBatchExpiry(deps, { batchId: batch.batchId, expiresAt: 'tomorrow' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });

    expect(await store.batchExpiry(batch.batchId)).toBeUndefined();
    expect(statuses()).toEqual(['active', 'active']);
  });
});
