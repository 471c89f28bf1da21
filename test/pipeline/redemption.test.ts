import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { OUTBOX_ITEM_TYPE } from '../../functions/contracts/outbox';
import { keys } from '../../functions/contracts/table';
import type { EventEnvelope } from '../../functions/contracts/events';
import { displayCode, maskCode } from '../../functions/domain/access-codes';
import { AppError, CodeAlreadyRedeemedError, CodeExpiredError, ResourceNotFoundError, ValidationFailedError } from '../../functions/domain/errors';
import { getSubscription } from '../../functions/use-cases/get-subscription';
import { previewAccessCodeCost } from '../../functions/use-cases/preview-access-code-cost';
import { redeemAccessCode, type RedeemAccessCodeResult } from '../../functions/use-cases/redeem-access-code';
import { usageReport } from '../../functions/use-cases/usage-report';
import { FakeClock } from '../support/clock';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { redemptionDeps, redemptionTeam, storedCodes } from '../support/redemption';

let table: TestTable;
const clock = new FakeClock(new Date('2026-11-21T12:00:00.000Z'));
const PERIOD = '2026-11';
let deps: ReturnType<typeof redemptionDeps>;

beforeAll(async () => {
  // DynamoDB's conflicts and throttles on top of DynamoDB Local (which raises neither).
  table = await createTestTable({ awsBehaviour: {} });
  deps = redemptionDeps(table, clock);
});
afterAll(async () => table.drop());
beforeEach(() => clock.set(new Date('2026-11-21T12:00:00.000Z')));

type Team = Awaited<ReturnType<typeof redemptionTeam>>;
/** Headroom for the races on a loaded machine (DynamoDB Local shared by the whole run); nothing here is timed. */
const RACE_TIMEOUT_MS = 240_000;
const redeem = (team: Team, code: string, subscriberId: string) => redeemAccessCode(deps, team.principal, { code, subscriber_id: subscriberId });

/** Settled redemptions by outcome: the answers, and the error codes of the refusals. */
const tally = (results: PromiseSettledResult<RedeemAccessCodeResult>[]) => {
  const answers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  const unexpected = errors.filter((e) => !(e instanceof AppError));
  if (unexpected.length > 0) throw unexpected[0];
  return { answers, codes: errors.map((e: AppError) => e.code) };
};

const itemsOf = async (type: string) => (await table.scanAll()).filter((item) => item.type === type);
const outboxEvents = async (projectId: string) =>
  (await itemsOf(OUTBOX_ITEM_TYPE)).map((item) => item.event as EventEnvelope<Record<string, unknown>>).filter((e) => e.project_id === projectId && e.type === 'access_code.redeemed');
/** Redemptions counted for the project in the period: free units taken from its shards plus usage records. */
const counterOf = async (projectId: string) => (await table.accounts.freeAllotmentUsed(projectId, PERIOD)) + (await billingOf(projectId)).length;
const billingOf = async (projectId: string) => (await itemsOf('billing_record')).filter((item) => item.project_id === projectId);

describe('redeeming a code', () => {
  test('answers the subscription with the masked code and how it counted in the period', async () => {
    const team = await redemptionTeam(table);
    const [code] = await storedCodes(table, team, { quantity: 1 });
    const typed = displayCode(code!).toLowerCase().replace(/0/g, 'o').replace(/1/g, 'l');

    const result = await redeem(team, typed, 'usr_42');

    expect(result.created).toBe(true);
    expect(result.data).toEqual({
      subscription_id: expect.stringMatching(/^sub_[0-9A-Z]{26}$/),
      plan_id: team.planId,
      subscriber_id: 'usr_42',
      access_code: maskCode(code!),
      redeemed_at: '2026-11-21T12:00:00.000Z',
      billing: { period: PERIOD, free_allotment: 10, overage: false, unit_price: '0.03', currency: 'USD' },
    });
    expect(await getSubscription(deps, team.principal, result.data.subscription_id)).toEqual(result.data);
    const preview = await previewAccessCodeCost(deps, team.principal, { plan_id: team.planId, quantity: 1 });
    expect(preview.preview.free_remaining).toBe(9);
  });

  test('50 concurrent redemptions of one code by different subscribers: exactly one wins, 49 get CODE_ALREADY_REDEEMED', async () => {
    const team = await redemptionTeam(table);
    const [code] = await storedCodes(table, team, { quantity: 1 });

    const { answers, codes } = tally(await Promise.allSettled(Array.from({ length: 50 }, (_, i) => redeem(team, code!, `usr_${i}`))));

    expect(answers).toHaveLength(1);
    expect(codes).toEqual(Array(49).fill('CODE_ALREADY_REDEEMED'));
    expect(await counterOf(team.projectId)).toBe(1);
    expect(await outboxEvents(team.projectId)).toHaveLength(1);
    expect((await itemsOf('subscription')).filter((item) => item.project_id === team.projectId)).toHaveLength(1);
    const stored = (await table.db.send(new GetCommand({ TableName: table.tableName, Key: keys.code(code!), ConsistentRead: true }))).Item!;
    expect(stored).toMatchObject({ status: 'redeemed', subscription_id: answers[0]!.data.subscription_id });
  }, RACE_TIMEOUT_MS);

  test('25 distinct codes redeemed concurrently with 10 free left bill exactly 15, each once', async () => {
    const team = await redemptionTeam(table, { freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' }, 'cus_test');
    const codes = await storedCodes(table, team, { quantity: 25 });

    const started = performance.now();
    const { answers, codes: refusals } = tally(await Promise.allSettled(codes.map((code, i) => redeem(team, code, `usr_${i}`))));
    const wallMs = performance.now() - started;

    expect(refusals).toEqual([]);
    const overage = answers.filter((a) => a.data.billing.overage);
    expect(overage).toHaveLength(15);
    expect(answers.every((a) => a.billed === a.data.billing.overage)).toBe(true);
    expect(await table.accounts.freeAllotmentUsed(team.projectId, PERIOD)).toBe(10);
    expect(await counterOf(team.projectId)).toBe(25);

    const records = await billingOf(team.projectId);
    expect(records).toHaveLength(15);
    expect(new Set(records.map((r) => r.redemption_id)).size).toBe(15);
    expect(records.every((r) => r.state === 'queued' && r.stripe_customer_id === 'cus_test')).toBe(true);
    // Each billing record is the redemption of a subscription that answered overage: true.
    const overageRedemptionIds = await Promise.all(overage.map(async (a) => (await deps.redemptions.getSubscription(a.data.subscription_id))!.redemptionId));
    expect(new Set(records.map((r) => r.redemption_id))).toEqual(new Set(overageRedemptionIds));
    expect(await usageReport(deps, { projectId: team.projectId, period: PERIOD })).toMatchObject({
      project_id: team.projectId, period: PERIOD, redemptions: 25, free: 10, billable: 15, billed: 0, pending: 0, parked: 0, queued: 15,
    });

    const attempts = answers.map((a) => a.attempts);
    console.log(`25-way race: ${wallMs.toFixed(0)} ms wall, attempts total ${attempts.reduce((s, n) => s + n, 0)}, max ${Math.max(...attempts)}`);
  }, RACE_TIMEOUT_MS);

  test('the same subscriber retrying gets the same answer, with one event and one billing record', async () => {
    const team = await redemptionTeam(table, { freeAllotment: 0, unitPriceMinor: 5, currency: 'EUR' }, 'cus_retry');
    const [code] = await storedCodes(table, team, { quantity: 1 });

    const first = await redeem(team, code!, 'usr_retry');
    clock.advance(60_000);
    const again = await Promise.all(Array.from({ length: 5 }, () => redeem(team, displayCode(code!), 'usr_retry')));

    expect(first.created).toBe(true);
    for (const answer of again) {
      expect(answer.created).toBe(false);
      expect(JSON.stringify(answer.data)).toBe(JSON.stringify(first.data));
    }
    await expect(redeem(team, code!, 'usr_someone_else')).rejects.toBeInstanceOf(CodeAlreadyRedeemedError);
    expect(await outboxEvents(team.projectId)).toHaveLength(1);
    expect(await billingOf(team.projectId)).toHaveLength(1);
    expect(await counterOf(team.projectId)).toBe(1);
  });

  test('concurrent first redemptions by one subscriber commit once and all get the one answer', async () => {
    const team = await redemptionTeam(table);
    const [code] = await storedCodes(table, team, { quantity: 1 });

    const { answers, codes } = tally(await Promise.allSettled(Array.from({ length: 10 }, () => redeem(team, code!, 'usr_same'))));

    expect(codes).toEqual([]);
    expect(answers.filter((a) => a.created)).toHaveLength(1);
    expect(new Set(answers.map((a) => JSON.stringify(a.data))).size).toBe(1);
    expect(await outboxEvents(team.projectId)).toHaveLength(1);
  });

  test('a function that found the allotment used up bills at once; a fresh one learns it from the flag, with no shard write', async () => {
    const team = await redemptionTeam(table, { freeAllotment: 2, unitPriceMinor: 3, currency: 'USD' }, 'cus_flag');
    const codes = await storedCodes(table, team, { quantity: 4 });
    for (const [i, code] of codes.slice(0, 3).entries()) await redeem(team, code, `usr_${i}`);
    const shardsBefore = (await itemsOf('allotment_shard')).filter((item) => item.project_id === team.projectId);
    expect(shardsBefore.map((item) => item.remaining)).toEqual([0, 0]);
    expect((await itemsOf('allotment_used_up')).filter((item) => item.project_id === team.projectId)).toHaveLength(1);

    const fresh = redemptionDeps(table, clock);
    const answer = await redeemAccessCode(fresh, team.principal, { code: codes[3]!, subscriber_id: 'usr_3' });

    expect(answer.data.billing.overage).toBe(true);
    expect((await itemsOf('allotment_shard')).filter((item) => item.project_id === team.projectId)).toEqual(shardsBefore);
    expect(await counterOf(team.projectId)).toBe(4);
  });
});

describe('refusals', () => {
  test('an expired code answers CODE_EXPIRED before any sweep has marked it, and nothing is written', async () => {
    const team = await redemptionTeam(table);
    const [code] = await storedCodes(table, team, { quantity: 1, expiresAt: new Date('2026-11-21T11:59:59.999Z') });
    const before = await table.scanAll();

    await expect(redeem(team, code!, 'usr_late')).rejects.toBeInstanceOf(CodeExpiredError);

    expect(await table.scanAll()).toEqual(before);
    const stored = (await table.db.send(new GetCommand({ TableName: table.tableName, Key: keys.code(code!), ConsistentRead: true }))).Item!;
    expect(stored.status).toBe('active');
  });

  test('a code swept to expired answers CODE_EXPIRED too', async () => {
    const team = await redemptionTeam(table);
    const [code] = await storedCodes(table, team, { quantity: 1, expiresAt: new Date('2026-11-20T00:00:00.000Z') });
    await table.db.send(
      new (await import('@aws-sdk/lib-dynamodb')).UpdateCommand({
        TableName: table.tableName, Key: keys.code(code!), UpdateExpression: 'SET #s = :e', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':e': 'expired' },
      }),
    );
    await expect(redeem(team, code!, 'usr_late')).rejects.toBeInstanceOf(CodeExpiredError);
  });

  test('at the expiry instant itself the code is expired; a millisecond before it redeems', async () => {
    const team = await redemptionTeam(table);
    const expiresAt = new Date('2026-11-21T12:00:00.000Z');
    const [early, onTime] = await storedCodes(table, team, { quantity: 2, expiresAt });

    clock.set(new Date(expiresAt.getTime() - 1));
    expect((await redeem(team, early!, 'usr_a')).data.redeemed_at).toBe('2026-11-21T11:59:59.999Z');
    clock.set(expiresAt);
    await expect(redeem(team, onTime!, 'usr_b')).rejects.toBeInstanceOf(CodeExpiredError);
  });

  test('a redemption race across the expiry instant has exactly one outcome, and the stored state agrees', async () => {
    for (let round = 0; round < 5; round++) {
      const team = await redemptionTeam(table);
      const expiresAt = new Date('2026-11-21T12:00:00.000Z');
      const [code] = await storedCodes(table, team, { quantity: 1, expiresAt });
      clock.set(new Date(expiresAt.getTime() - 1));

      const racers = Array.from({ length: 8 }, (_, i) => redeem(team, code!, `usr_${i}`));
      // The instant passes while the redemptions are in flight.
      await new Promise((resolve) => setTimeout(resolve, round * 3));
      clock.set(expiresAt);
      const { answers, codes } = tally(await Promise.allSettled(racers));

      const stored = (await table.db.send(new GetCommand({ TableName: table.tableName, Key: keys.code(code!), ConsistentRead: true }))).Item!;
      expect(answers.length).toBeLessThanOrEqual(1);
      if (answers.length === 1) {
        expect(answers[0]!.data.redeemed_at < expiresAt.toISOString()).toBe(true);
        expect(stored.status).toBe('redeemed');
        expect(codes.every((c) => c === 'CODE_ALREADY_REDEEMED' || c === 'CODE_EXPIRED')).toBe(true);
        expect(await outboxEvents(team.projectId)).toHaveLength(1);
      } else {
        expect(codes).toEqual(Array(8).fill('CODE_EXPIRED'));
        expect(stored.status).toBe('active');
        expect(await outboxEvents(team.projectId)).toHaveLength(0);
        expect(await counterOf(team.projectId)).toBe(0);
      }
    }
  });

  test('an unknown code, another team\'s code and a code of a job still generating answer the same 404', async () => {
    const team = await redemptionTeam(table);
    const other = await redemptionTeam(table);
    const [othersCode] = await storedCodes(table, other, { quantity: 1 });
    const [generatingCode] = await storedCodes(table, team, { quantity: 1, generated: false });
    const before = await table.scanAll();

    const errors = await Promise.all(
      ['7KQ2-9XMD-4TRV', 'not a code at all', othersCode!, generatingCode!].map((code) => redeem(team, code, 'usr_probe').then(() => undefined, (e: unknown) => e)),
    );

    for (const error of errors) {
      expect(error).toBeInstanceOf(ResourceNotFoundError);
      expect(error).toMatchObject({ code: 'RESOURCE_NOT_FOUND', status: 404, message: 'Access code not found.' });
    }
    expect(await table.scanAll()).toEqual(before);
    // The same code is redeemable by its own team.
    expect((await redeem(other, othersCode!, 'usr_owner')).created).toBe(true);
  });

  test.each([
    ['empty', ''],
    ['129 characters', 'x'.repeat(129)],
    ['a control character', 'usr\u0000x'],
    ['a line break', 'usr\nx'],
  ])('a subscriber_id that is %s answers 422 and changes nothing', async (_label, subscriberId) => {
    const team = await redemptionTeam(table);
    const [code] = await storedCodes(table, team, { quantity: 1 });
    const before = await table.scanAll();

    const error = await redeem(team, code!, subscriberId).then(() => undefined, (e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationFailedError);
    expect((error as ValidationFailedError).details.map((d) => d.path)).toEqual(['subscriber_id']);
    expect(await table.scanAll()).toEqual(before);
  });

  test('a subscriber_id of 128 printable characters, accents and all, is accepted', async () => {
    const team = await redemptionTeam(table);
    const [code] = await storedCodes(table, team, { quantity: 1 });
    const subscriberId = 'é'.repeat(120) + ' user_1';
    expect([...subscriberId]).toHaveLength(127);
    expect((await redeem(team, code!, subscriberId + '!')).data.subscriber_id).toBe(subscriberId + '!');
  });

  test('another team\'s subscription answers 404', async () => {
    const team = await redemptionTeam(table);
    const other = await redemptionTeam(table);
    const [code] = await storedCodes(table, team, { quantity: 1 });
    const { data } = await redeem(team, code!, 'usr_1');
    await expect(getSubscription(deps, other.principal, data.subscription_id)).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(getSubscription(deps, team.principal, 'sub_01HXNOTHERE')).rejects.toBeInstanceOf(ResourceNotFoundError);
  });
});

describe('billing', () => {
  test('a project with a price and no Stripe customer redeems, and its billable usage is kept pending', async () => {
    const team = await redemptionTeam(table, { freeAllotment: 1, unitPriceMinor: 100, currency: 'USD' });
    const codes = await storedCodes(table, team, { quantity: 3 });

    const answers = [];
    for (const [i, code] of codes.entries()) answers.push(await redeem(team, code, `usr_${i}`));

    expect(answers.map((a) => a.data.billing.overage)).toEqual([false, true, true]);
    const records = await billingOf(team.projectId);
    expect(records.map((r) => r.state)).toEqual(['pending', 'pending']);
    expect(records.every((r) => r.stripe_customer_id === null)).toBe(true);
    expect((await deps.billing.pendingForProject(team.projectId)).map((r) => r.redemptionId).sort()).toEqual(records.map((r) => r.redemption_id).sort());
    expect(await usageReport(deps, { projectId: team.projectId, period: PERIOD })).toMatchObject({ redemptions: 3, free: 1, billable: 2, pending: 2 });
  });

  test('a unit price of 0 is never billed nor overage, even beyond the allotment; usage and preview agree', async () => {
    const team = await redemptionTeam(table, { freeAllotment: 1, unitPriceMinor: 0, currency: 'JPY' }, 'cus_free');
    const codes = await storedCodes(table, team, { quantity: 3 });

    const answers = await Promise.all(codes.map((code, i) => redeem(team, code, `usr_${i}`)));

    expect(answers.filter((a) => a.data.billing.overage)).toHaveLength(0);
    expect(answers.some((a) => a.billed)).toBe(false);
    expect(answers[0]!.data.billing.unit_price).toBe('0');
    expect((await billingOf(team.projectId)).map((r) => r.state)).toEqual(['no_charge', 'no_charge']);
    expect(await usageReport(deps, { projectId: team.projectId, period: PERIOD })).toMatchObject({ redemptions: 3, free: 3, billable: 0, queued: 0 });
    const preview = await previewAccessCodeCost(deps, { ...team.principal, abilities: ['project-access-code:create'] }, { plan_id: team.planId, quantity: 5 });
    expect(preview).toMatchObject({ will_bill_overage: false, preview: { free_remaining: 0, chargeable_quantity: 5, cost: '0' } });
  });

  test('redemptions are counted per calendar month (UTC)', async () => {
    const team = await redemptionTeam(table, { freeAllotment: 1, unitPriceMinor: 3, currency: 'USD' }, 'cus_month');
    const [a, b] = await storedCodes(table, team, { quantity: 2 });
    clock.set(new Date('2026-11-30T23:59:59.999Z'));
    expect((await redeem(team, a!, 'usr_a')).data.billing).toMatchObject({ period: '2026-11', overage: false });
    clock.set(new Date('2026-12-01T00:00:00.000Z'));
    expect((await redeem(team, b!, 'usr_b')).data.billing).toMatchObject({ period: '2026-12', overage: false });
  });
});

describe('access_code.redeemed', () => {
  test('one outbox event per redemption, with the spec payload and the code masked, never in full', async () => {
    const team = await redemptionTeam(table);
    const codes = await storedCodes(table, team, { quantity: 4 });
    const answers = await Promise.all(codes.map((code, i) => redeem(team, code, `usr_${i}`)));

    const events = await outboxEvents(team.projectId);
    expect(events).toHaveLength(4);
    for (const [i, code] of codes.entries()) {
      const matching = events.filter((e) => e.data.subscription_id === answers[i]!.data.subscription_id);
      expect(matching).toHaveLength(1);
      expect(matching[0]).toEqual({
        id: expect.stringMatching(/^evt_/),
        type: 'access_code.redeemed',
        created_at: answers[i]!.data.redeemed_at,
        api_version: '2026-05-01',
        project_id: team.projectId,
        data: { subscription_id: answers[i]!.data.subscription_id, plan_id: team.planId, subscriber_id: `usr_${i}`, access_code: maskCode(code) },
      });
      expect(JSON.stringify(events)).not.toContain(code);
      expect(JSON.stringify(answers)).not.toContain(code);
    }
    // The stored answer (for retries, on the code item) and the subscription hold the masked code only.
    const stored = await Promise.all(codes.map(async (code) => (await table.db.send(new GetCommand({ TableName: table.tableName, Key: keys.code(code) }))).Item));
    expect(stored.every((item) => item!.answer.access_code.startsWith('masked_'))).toBe(true);
  });
});
