import { CodeAlreadyRedeemedError, CodeExpiredError, ResourceNotFoundError, ValidationFailedError } from '../../functions/domain/errors';
import type { Principal } from '../../functions/domain/model';
import { redeemAccessCode } from '../../functions/use-cases/redeem-access-code';
import { InMemoryAccountStore } from '../support/account-doubles';
import { FakeClock } from '../support/clock';
import { createTeamFixture, type TeamFixture } from '../support/fixtures';
import { inMemoryRedemptionStores, seedCodes } from '../support/redemption-doubles';

// redeem_access_code over the in-memory account and redemption stores (the redemption store's
// contract suite runs the same cases over DynamoDB: test/adapters/redemption-store-contract.test.ts).
// The HTTP and pipeline suites run it over DynamoDB Local (test/pipeline/redemption.test.ts).

const T0 = new Date('2026-06-10T09:00:00.000Z');
const PERIOD = '2026-06';

const setUp = async (tier = { freeAllotment: 3, unitPriceMinor: 3, currency: 'USD' }) => {
  const accounts = new InMemoryAccountStore();
  const stores = inMemoryRedemptionStores(accounts);
  const clock = new FakeClock(T0);
  const deps = { accounts, redemptions: stores.redemptions, clock };
  const team: TeamFixture = await createTeamFixture(accounts, {}, tier);
  const principal: Principal = { tokenId: 'tok_test', teamId: team.teamId, abilities: ['project-access-code:redeem'] };
  const seed = (options: { quantity: number; expiresAt?: Date | null; generated?: boolean }, owner: TeamFixture = team) => seedCodes(stores, owner, options);
  const redeem = (code: string, subscriberId: string, as: Principal = principal) => redeemAccessCode(deps, as, { code, subscriber_id: subscriberId });
  return { accounts, stores, clock, team, principal, seed, redeem };
};

describe('redeem_access_code', () => {
  test('redeems a code once: the same subscriber is answered the first answer again, anyone else is refused; one event, one free unit', async () => {
    const { seed, redeem, accounts, stores, team } = await setUp();
    const [code] = (await seed({ quantity: 1 })).codes;

    const first = await redeem(code!, 'usr_a');
    expect(first).toEqual({
      data: expect.objectContaining({ plan_id: team.planId, subscriber_id: 'usr_a', redeemed_at: T0.toISOString(), billing: expect.objectContaining({ period: PERIOD, overage: false }) }),
      created: true,
      billed: false,
      attempts: 1,
    });
    expect(await redeem(code!, 'usr_a')).toEqual({ data: first.data, created: false, billed: false, attempts: 1 });
    await expect(redeem(code!, 'usr_b')).rejects.toBeInstanceOf(CodeAlreadyRedeemedError);
    expect((await stores.redemptions.getSubscription(first.data.subscription_id))?.subscriberId).toBe('usr_a');
    expect(stores.table.events.filter((event) => event.type === 'access_code.redeemed')).toHaveLength(1);
    expect(await accounts.freeAllotmentUsed(team.projectId, PERIOD)).toBe(1);
  });

  test('not found for an unknown code, another team’s code and a code of a job still generating; expired from its expiry instant; a blank subscriber id is invalid', async () => {
    const { seed, redeem, clock, accounts } = await setUp();
    const stranger = await createTeamFixture(accounts, {});
    const [foreign] = (await seed({ quantity: 1 }, stranger)).codes;
    const [generating] = (await seed({ quantity: 1, generated: false })).codes;
    const [expiring] = (await seed({ quantity: 1, expiresAt: new Date(T0.getTime() + 60_000) })).codes;

    for (const code of ['NOSUCHCODE00', 'not a code!', foreign!, generating!]) await expect(redeem(code, 'usr_1')).rejects.toBeInstanceOf(ResourceNotFoundError);
    await expect(redeem(expiring!, ' ')).rejects.toBeInstanceOf(ValidationFailedError);
    clock.advance(60_000);
    await expect(redeem(expiring!, 'usr_1')).rejects.toBeInstanceOf(CodeExpiredError);
  });

  test('five codes redeemed at once with 3 free: 3 free and 2 billed, each billed one with its usage record; two subscribers racing for one code: one wins, the other is refused', async () => {
    const { seed, redeem, accounts, stores, team } = await setUp();
    const codes = (await seed({ quantity: 6 })).codes;

    const answers = await Promise.all(codes.slice(0, 5).map((code, i) => redeem(code, `usr_${i}`)));
    expect(answers.map((answer) => answer.billed).sort()).toEqual([false, false, false, true, true]);
    expect(answers.every((answer) => answer.billed === answer.data.billing.overage)).toBe(true);
    expect(await accounts.freeAllotmentUsed(team.projectId, PERIOD)).toBe(3);
    const billed = await Promise.all(answers.filter((answer) => answer.billed).map(async (answer) => (await stores.redemptions.getSubscription(answer.data.subscription_id))!.redemptionId));
    expect((await stores.billing.records(billed)).map((record) => record.state)).toEqual(['pending', 'pending']);

    const race = await Promise.allSettled([redeem(codes[5]!, 'usr_x'), redeem(codes[5]!, 'usr_y')]);
    expect(race.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(race.find((result) => result.status === 'rejected')).toMatchObject({ reason: expect.any(CodeAlreadyRedeemedError) });
  });
});
