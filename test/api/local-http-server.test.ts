import { startTestApi, type ApiAnswer, type TestApi } from '../support/api';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { createTeamFixture, type TeamFixture } from '../support/fixtures';

let table: TestTable;
let api: TestApi;
let team: TeamFixture;

beforeAll(async () => {
  table = await createTestTable();
  team = await createTeamFixture(table.accounts, { all: ['project-access-code:create', 'project-access-code:view-any'] });
  api = await startTestApi(table);
});
afterAll(async () => {
  await api.close();
  await table.drop();
});

/** The documented envelope, with its code. */
const expectEnvelope = (answer: ApiAnswer, status: number, code: string) => {
  expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code });
  expect(typeof answer.body.error.message).toBe('string');
  expect(Array.isArray(answer.body.error.details)).toBe(true);
};

describe('the local HTTP server answers every refusal in the documented envelope', () => {
  test('a badly percent-encoded path parameter is 400 BAD_REQUEST naming the parameter, not a 500', async () => {
    const answer = await api.call('GET', '/v1/jobs/%E0%A4%A', { token: team.tokens.all! });
    expectEnvelope(answer, 400, 'BAD_REQUEST');
    expect(answer.body.error.details).toEqual([{ path: 'job_id', message: 'not valid percent-encoding' }]);
  });

  test('a badly percent-encoded path that matches no route is 404', async () => {
    expectEnvelope(await api.call('GET', '/v1/nothing/%E0%A4%A'), 404, 'RESOURCE_NOT_FOUND');
  });

  test('a body over 10 MB is 413 PAYLOAD_TOO_LARGE', async () => {
    const body = Buffer.alloc(10 * 1024 * 1024 + 1, 0x20);
    const answer = await api.call('POST', '/v1/access-codes/preview', { token: team.tokens.all!, body, headers: { 'content-type': 'application/json' } });
    expectEnvelope(answer, 413, 'PAYLOAD_TOO_LARGE');
  });

  test('a body of exactly 10 MB reaches the handler (and is refused there as too large for JSON: 422)', async () => {
    const body = Buffer.alloc(10 * 1024 * 1024, 0x20);
    const answer = await api.call('POST', '/v1/access-codes/preview', { token: team.tokens.all!, body, headers: { 'content-type': 'application/json' } });
    expectEnvelope(answer, 422, 'VALIDATION_FAILED');
  });

  test.each([
    ['DELETE', '/v1/access-codes/preview', 'POST'],
    ['GET', '/v1/access-codes/bulk-generate', 'POST'],
    ['POST', '/v1/jobs/mjb_1', 'GET'],
    ['PUT', '/health', 'GET'],
  ])('%s %s is 405 METHOD_NOT_ALLOWED with Allow: %s', async (method, path, allow) => {
    const response = await fetch(api.url + path, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    const body = (await response.json()) as { error: { code: string; message: string; details: unknown[] } };
    expect(body.error).toEqual({ code: 'METHOD_NOT_ALLOWED', message: expect.stringContaining(allow), details: [] });
  });

  test('an unknown path is 404 RESOURCE_NOT_FOUND', async () => {
    expectEnvelope(await api.call('POST', '/v1/unknown'), 404, 'RESOURCE_NOT_FOUND');
  });
});
