import { withAccountReadCache } from '../../functions/adapters/account-read-cache';
import type { Plan, Project } from '../../functions/domain/model';
import type { AccountReader } from '../../functions/domain/ports';

/** An account reader over a map, counting the reads that reach it. */
const countingReader = () => {
  const plans = new Map<string, Plan>();
  const reads: string[] = [];
  const reader: AccountReader & { deleteToken(hash: string): Promise<void> } = {
    findTokenByHash: async (hash) => (reads.push(`token:${hash}`), undefined),
    findPlan: async (id) => (reads.push(`plan:${id}`), plans.get(id)),
    findProject: async (id) => (reads.push(`project:${id}`), { id, tier: { freeAllotment: reads.length, unitPriceMinor: 1, currency: 'USD' } } as unknown as Project),
    freeAllotmentUsed: async () => (reads.push('used'), 3),
    deleteToken: async (hash) => void reads.push(`delete:${hash}`),
  };
  return { reader, plans, reads };
};
const plan = (id: string): Plan => ({ id, projectId: 'prj_1', teamId: 'tea_1', name: 'P', createdAt: '2026-11-21T12:00:00.000Z' });

describe('the account read cache', () => {
  test('answers a found plan from memory, and concurrent misses of one key share one read', async () => {
    const { reader, plans, reads } = countingReader();
    plans.set('pln_1', plan('pln_1'));
    const cached = withAccountReadCache(reader, { tokens: 1_000, plans: 1_000, projects: 0 });

    const first = await Promise.all([cached.findPlan('pln_1'), cached.findPlan('pln_1'), cached.findPlan('pln_1')]);
    const again = await cached.findPlan('pln_1');

    expect(first).toEqual([plan('pln_1'), plan('pln_1'), plan('pln_1')]);
    expect(again).toEqual(plan('pln_1'));
    expect(reads).toEqual(['plan:pln_1']);
  });

  test('never keeps a miss: a plan created after a miss is found at once', async () => {
    const { reader, plans, reads } = countingReader();
    const cached = withAccountReadCache(reader, { tokens: 1_000, plans: 1_000, projects: 0 });

    expect(await cached.findPlan('pln_2')).toBeUndefined();
    plans.set('pln_2', plan('pln_2'));

    expect(await cached.findPlan('pln_2')).toEqual(plan('pln_2'));
    expect(reads).toEqual(['plan:pln_2', 'plan:pln_2']);
  });

  test('reads again once an entry is older than its time to live; a zero time reads every time', async () => {
    const { reader, reads } = countingReader();
    const cached = withAccountReadCache(reader, { tokens: 0, plans: 0, projects: 30 });
    const before = (await cached.findProject('prj_1'))!.tier.freeAllotment;
    expect((await cached.findProject('prj_1'))!.tier.freeAllotment).toBe(before);
    await new Promise((resolve) => setTimeout(resolve, 60));

    expect((await cached.findProject('prj_1'))!.tier.freeAllotment).not.toBe(before);
    await cached.findTokenByHash('h');
    await cached.findTokenByHash('h');
    expect(reads.filter((read) => read === 'token:h')).toHaveLength(2);
  });

  test('passes every other method through to the store, uncached', async () => {
    const { reader, reads } = countingReader();
    const cached = withAccountReadCache(reader, { tokens: 1_000, plans: 1_000, projects: 1_000 });
    expect(await cached.freeAllotmentUsed('prj_1', '2026-11')).toBe(3);
    expect(await cached.freeAllotmentUsed('prj_1', '2026-11')).toBe(3);
    await cached.deleteToken('h');
    expect(reads).toEqual(['used', 'used', 'delete:h']);
  });
});
