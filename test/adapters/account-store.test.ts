import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { hashApiToken } from '../../functions/domain/api-tokens';
import { ResourceNotFoundError } from '../../functions/domain/errors';
import type { AccountStore } from '../../functions/domain/ports';
import { ALLOTMENT_SHARDS, allotmentKeys } from '../../functions/contracts/table';
import { InMemoryAccountStore } from '../support/account-doubles';
import { createTestTable, type TestTable } from '../support/dynamodb';

let table: TestTable | undefined;
const tableOnce = async () => (table ??= await createTestTable());
afterAll(async () => table?.drop());

const now = '2026-11-21T10:00:00.000Z';
const project = (id: string, teamId = 'tea_1') => ({
  id,
  teamId,
  name: 'P',
  telegramChatId: null,
  tier: { freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' },
  stripeCustomerId: null,
  createdAt: now,
});

// One contract, two implementations: the in-memory double and DynamoAccountStore on DynamoDB
// Local. A case that passes on one and fails on the other is a double that drifted.
const implementations: Array<[string, () => Promise<AccountStore>]> = [
  ['in memory', async () => new InMemoryAccountStore()],
  ['DynamoDB', async () => (await tableOnce()).accounts],
];

describe.each(implementations)('the account store (%s)', (_name, open) => {
  let accounts: AccountStore;
  beforeAll(async () => {
    accounts = await open();
  });

  test('stores and reads back teams, projects and plans', async () => {
    await accounts.putTeam({ id: 'tea_1', name: 'Acme', createdAt: now });
    await accounts.putProject({ ...project('prj_1'), telegramChatId: '777', stripeCustomerId: 'cus_1' });
    await accounts.putPlan({ id: 'pln_1', projectId: 'prj_1', teamId: 'tea_1', name: 'Gold', createdAt: now });

    expect(await accounts.findTeam('tea_1')).toEqual({ id: 'tea_1', name: 'Acme', createdAt: now });
    expect(await accounts.findProject('prj_1')).toEqual({ ...project('prj_1'), telegramChatId: '777', stripeCustomerId: 'cus_1' });
    expect(await accounts.findPlan('pln_1')).toEqual({ id: 'pln_1', projectId: 'prj_1', teamId: 'tea_1', name: 'Gold', createdAt: now });
    expect(await accounts.findPlan('pln_missing')).toBeUndefined();
  });

  test('finds a token only by the hash of its plaintext, which is never stored', async () => {
    const plaintext = 'mpk_secret-value-for-the-test';
    await accounts.putToken(
      { id: 'tok_1', teamId: 'tea_1', name: 't', abilities: ['project-access-code:create'], createdAt: now },
      hashApiToken(plaintext),
    );
    expect((await accounts.findTokenByHash(hashApiToken(plaintext)))?.abilities).toEqual(['project-access-code:create']);
    expect(await accounts.findTokenByHash(plaintext)).toBeUndefined();

    await accounts.deleteToken(hashApiToken(plaintext));
    expect(await accounts.findTokenByHash(hashApiToken(plaintext))).toBeUndefined();
  });

  test('links and unlinks a Telegram chat, and refuses an unknown project without creating it', async () => {
    await accounts.putProject(project('prj_2'));
    await accounts.setTelegramChat('prj_2', '-100123');
    expect((await accounts.findProject('prj_2'))?.telegramChatId).toBe('-100123');
    await accounts.setTelegramChat('prj_2', null);
    expect((await accounts.findProject('prj_2'))?.telegramChatId).toBeNull();

    await expect(accounts.setTelegramChat('prj_nope', '1')).rejects.toBeInstanceOf(ResourceNotFoundError);
    expect(await accounts.findProject('prj_nope')).toBeUndefined();
  });

  test('replaces a tier and keeps the rest of the project', async () => {
    await accounts.putProject({ ...project('prj_3'), telegramChatId: '9' });
    await accounts.setTier('prj_3', { freeAllotment: 0, unitPriceMinor: 150, currency: 'EUR' }, 'cus_9');
    expect(await accounts.findProject('prj_3')).toEqual({
      ...project('prj_3'),
      telegramChatId: '9',
      tier: { freeAllotment: 0, unitPriceMinor: 150, currency: 'EUR' },
      stripeCustomerId: 'cus_9',
    });
    await expect(accounts.setTier('prj_nope', { freeAllotment: 1, unitPriceMinor: 1, currency: 'USD' })).rejects.toBeInstanceOf(
      ResourceNotFoundError,
    );
  });

  test('no free allotment used by a project or period never seen', async () => {
    expect(await accounts.freeAllotmentUsed('prj_never_seen', '2026-11')).toBe(0);
  });

  test('writes a marker only once under concurrency', async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => accounts.putMarkerIfAbsent('race', { n })));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true) + 1;
    expect(await accounts.getMarker('race')).toEqual({ n: winner });
  });
});

describe('DynamoAccountStore: the free allotment on its shards', () => {
  test('counts the free allotment used per project and billing period over its shards, zero when none', async () => {
    const t = await tableOnce();
    const shard = (n: number, initial: number, remaining: number) =>
      t.db.send(new PutCommand({ TableName: t.tableName, Item: { ...allotmentKeys.shard('prj_1', '2026-11', n), initial, remaining } }));
    await Promise.all([shard(0, 3, 0), shard(5, 3, 1), shard(ALLOTMENT_SHARDS - 1, 2, 2)]);
    expect(await t.accounts.freeAllotmentUsed('prj_1', '2026-11')).toBe(5);
    expect(await t.accounts.freeAllotmentUsed('prj_1', '2026-10')).toBe(0);
    expect(await t.accounts.freeAllotmentUsed('prj_2', '2026-11')).toBe(0);
  });

  test('keeps only the hash of a token: its plaintext is nowhere in the table', async () => {
    const t = await tableOnce();
    const plaintext = 'mpk_another-secret-value-for-the-test';
    await t.accounts.putToken({ id: 'tok_2', teamId: 'tea_1', name: 't', abilities: ['project-access-code:create'], createdAt: now }, hashApiToken(plaintext));
    expect(await t.accounts.findTokenByHash(hashApiToken(plaintext))).toBeDefined();
    expect(JSON.stringify(await t.scanAll())).not.toContain(plaintext);
  });
});
