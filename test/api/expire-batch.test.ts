import { DynamoCodeStore } from '../../functions/adapters/dynamodb/code-store';
import { startTestApi, type TestApi } from '../support/api';
import { FakeClock } from '../support/clock';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { createTeamFixture, type TeamFixture } from '../support/fixtures';
import { storedCodes } from '../support/redemption';

let table: TestTable;
let api: TestApi;
let team: TeamFixture;
let otherTeam: TeamFixture;
const clock = new FakeClock(new Date('2026-11-21T12:00:00Z'));

beforeAll(async () => {
  table = await createTestTable();
  team = await createTeamFixture(table.accounts, { creator: ['project-access-code:create'], viewer: ['project-access-code:view-any'] });
  otherTeam = await createTeamFixture(table.accounts, { creator: ['project-access-code:create'] });
  api = await startTestApi(table, clock);
});
afterAll(async () => {
  await api.close();
  await table.drop();
});

const batchOf = async (code: string) => (await new DynamoCodeStore(table.db, table.tableName).getCode(code))!.batchId;

describe('POST /v1/batches/{batch_id}/expire', () => {
  test('answers 202 with the count of codes whose expiry moved to now; a second call moves none', async () => {
    const codes = await storedCodes(table, team, { quantity: 4, expiresAt: new Date('2027-01-01T00:00:00Z') });
    const batchId = await batchOf(codes[0]!);

    const first = await api.call('POST', `/v1/batches/${batchId}/expire`, { token: team.tokens.creator!, json: {} });
    const second = await api.call('POST', `/v1/batches/${batchId}/expire`, { token: team.tokens.creator! });

    expect(first.status).toBe(202);
    expect(first.body).toEqual({ data: { batch_id: batchId, expires_at: '2026-11-21T12:00:00.000Z', codes_affected: 4 } });
    expect(second.body.data.codes_affected).toBe(0);
  });

  test('another team gets 404, a token without :create 403, a bad expires_at 422, and nothing moves', async () => {
    const codes = await storedCodes(table, team, { quantity: 2, expiresAt: new Date('2027-01-01T00:00:00Z') });
    const batchId = await batchOf(codes[0]!);

    const foreign = await api.call('POST', `/v1/batches/${batchId}/expire`, { token: otherTeam.tokens.creator!, json: {} });
    const viewer = await api.call('POST', `/v1/batches/${batchId}/expire`, { token: team.tokens.viewer!, json: {} });
    const bad = await api.call('POST', `/v1/batches/${batchId}/expire`, { token: team.tokens.creator!, json: { expires_at: 'soon' } });

    expect([foreign.status, viewer.status, bad.status]).toEqual([404, 403, 422]);
    expect(foreign.body.error.code).toBe('RESOURCE_NOT_FOUND');
    const store = new DynamoCodeStore(table.db, table.tableName);
    expect((await Promise.all(codes.map((c) => store.getCode(c)))).map((c) => c!.expiresAt)).toEqual(['2027-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
  });
});
