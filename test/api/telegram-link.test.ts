import { makeTelegramSender } from '../../functions/adapters/telegram/factory';
import { startTestApi, TEST_WEBHOOK_SECRET, type TestApi } from '../support/api';
import { FakeClock } from '../support/clock';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { startFakeTelegram, telegramErrors, type FakeTelegram } from '../../local/fakes/fake-telegram';
import { createTeamFixture, type TeamFixture } from '../support/fixtures';

let table: TestTable;
let api: TestApi;
let fake: FakeTelegram;
let team: TeamFixture;
let other: TeamFixture;
const clock = new FakeClock(new Date('2026-11-21T12:00:00Z'));

beforeAll(async () => {
  table = await createTestTable();
  fake = await startFakeTelegram({ token: 'bot-token' });
  team = await createTeamFixture(table.accounts, { creator: ['project-access-code:create'], viewer: ['project-access-code:view-any'] });
  other = await createTeamFixture(table.accounts, { creator: ['project-access-code:create'] });
  api = await startTestApi(table, clock, { telegram: makeTelegramSender({ botToken: 'bot-token', apiRoot: fake.apiRoot }) });
});
afterAll(async () => {
  await api.close();
  await fake.close();
  await table.drop();
});

const link = async (projectId = team.projectId, token = team.tokens.creator) =>
  api.call('POST', '/v1/telegram/link', { token: token!, json: { project_id: projectId } });
const tokenOf = (url: string) => new URL(url).searchParams.get('start') ?? '';
const update = (text: string, chatId: unknown, secret: string | null = TEST_WEBHOOK_SECRET, updateId = 1) =>
  api.call('POST', '/telegram/webhook', {
    json: { update_id: updateId, message: { message_id: 1, date: 0, chat: { id: chatId, type: 'private' }, text } },
    headers: secret === null ? {} : { 'x-telegram-bot-api-secret-token': secret },
  });
const chatOf = async (projectId: string) => (await table.accounts.findProject(projectId))?.telegramChatId;

describe('POST /v1/telegram/link', () => {
  test('answers a one-time t.me deep link that expires in 15 minutes', async () => {
    const answer = await link();
    expect(answer.status).toBe(200);
    expect(answer.body.data.url).toMatch(/^https:\/\/t\.me\/memberpass_test_bot\?start=[A-Za-z0-9_-]{1,64}$/);
    expect(answer.body.data.expires_at).toBe('2026-11-21T12:15:00.000Z');
    expect(tokenOf(answer.body.data.url)).not.toBe(tokenOf((await link()).body.data.url));
  });

  test('refuses in the documented order and envelope', async () => {
    expect((await api.call('POST', '/v1/telegram/link', { json: { project_id: team.projectId } })).body.error.code).toBe('AUTHENTICATION_REQUIRED');
    expect((await link(team.projectId, team.tokens.viewer)).body.error.code).toBe('TOKEN_MISSING_ABILITY');
    const missing = await api.call('POST', '/v1/telegram/link', { token: team.tokens.creator!, json: {} });
    expect(missing.status).toBe(422);
    expect(missing.body.error.details[0].path).toBe('project_id');
    const foreign = await link(other.projectId);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('RESOURCE_NOT_FOUND');
  });
});

describe('POST /telegram/webhook', () => {
  test('reads nothing without the webhook secret token', async () => {
    const token = tokenOf((await link()).body.data.url);
    const before = await chatOf(team.projectId);
    for (const secret of [null, 'wrong', `${TEST_WEBHOOK_SECRET}x`]) {
      const answer = await update(`/start ${token}`, 555, secret);
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe('AUTHENTICATION_REQUIRED');
    }
    expect(await chatOf(team.projectId)).toBe(before);
    expect(fake.callsTo('sendMessage')).toHaveLength(0);
  });

  test('/start <token> links the chat and confirms; the same update again changes nothing and says nothing', async () => {
    const token = tokenOf((await link()).body.data.url);
    const first = await update(`/start ${token}`, 777, TEST_WEBHOOK_SECRET, 10);
    expect(first.body.data.outcome).toBe('linked');
    expect(await chatOf(team.projectId)).toBe('777');
    expect(fake.messagesTo('777')).toHaveLength(1);
    expect(fake.messagesTo('777')[0]).toContain('Linked');

    const again = await update(`/start ${token}`, 777, TEST_WEBHOOK_SECRET, 10);
    expect(again.status).toBe(200);
    expect(again.body.data.outcome).toBe('repeated');
    expect(await chatOf(team.projectId)).toBe('777');
    expect(fake.messagesTo('777')).toHaveLength(1);
  });

  test('a used token cannot link another chat', async () => {
    const token = tokenOf((await link()).body.data.url);
    await update(`/start ${token}`, 801);
    const thief = await update(`/start ${token}`, 802);
    expect(thief.body.data.outcome).toBe('refused');
    expect(await chatOf(team.projectId)).toBe('801');
    expect(fake.messagesTo('802')[0]).toContain('expired or was already used');
  });

  test('an expired token links nothing', async () => {
    const token = tokenOf((await link(other.projectId, other.tokens.creator)).body.data.url);
    const before = await chatOf(other.projectId);
    clock.advance(15 * 60_000 + 1);
    const answer = await update(`/start ${token}`, 901);
    clock.set(new Date('2026-11-21T12:00:00Z'));
    expect(answer.body.data.outcome).toBe('refused');
    expect(await chatOf(other.projectId)).toBe(before);
  });

  test('other messages are ignored without a reply', async () => {
    const calls = fake.callsTo('sendMessage').length;
    expect((await update('hello', 999)).body.data.outcome).toBe('ignored');
    expect((await update('/start@memberpass_test_bot not*a*token', 999)).body.data.outcome).toBe('ignored');
    expect(fake.callsTo('sendMessage')).toHaveLength(calls);
  });

  test('a replayed old /start changes nothing: not after a newer link, not after the token expired', async () => {
    const old = tokenOf((await link()).body.data.url);
    expect((await update(`/start ${old}`, 1001, TEST_WEBHOOK_SECRET, 20)).body.data.outcome).toBe('linked');
    const newer = tokenOf((await link()).body.data.url);
    expect((await update(`/start ${newer}`, 1002, TEST_WEBHOOK_SECRET, 21)).body.data.outcome).toBe('linked');

    const replay = await update(`/start ${old}`, 1001, TEST_WEBHOOK_SECRET, 20);
    expect(replay.status).toBe(200);
    expect(replay.body.data.outcome).toBe('repeated');
    expect(await chatOf(team.projectId)).toBe('1002');
    expect(fake.messagesTo('1001')).toHaveLength(1);

    clock.advance(15 * 60_000 + 1);
    const late = await update(`/start ${old}`, 1001, TEST_WEBHOOK_SECRET, 20);
    clock.set(new Date('2026-11-21T12:00:00Z'));
    expect(late.status).toBe(200);
    expect(await chatOf(team.projectId)).toBe('1002');
    expect(fake.messagesTo('1001')).toHaveLength(1);
  });

  test('when the confirmation could not be sent, Telegram’s retry sends it, once', async () => {
    const token = tokenOf((await link()).body.data.url);
    fake.failNext('sendMessage', 1, telegramErrors.internal());
    const first = await update(`/start ${token}`, 1101, TEST_WEBHOOK_SECRET, 30);
    expect(first.status).toBe(500);
    expect(fake.messagesTo('1101')).toHaveLength(0);

    const retry = await update(`/start ${token}`, 1101, TEST_WEBHOOK_SECRET, 30);
    expect(retry.status).toBe(200);
    expect(retry.body.data.outcome).toBe('linked');
    expect(await chatOf(team.projectId)).toBe('1101');
    expect(fake.messagesTo('1101')).toEqual([expect.stringContaining('Linked')]);

    expect((await update(`/start ${token}`, 1101, TEST_WEBHOOK_SECRET, 30)).body.data.outcome).toBe('repeated');
    expect(fake.messagesTo('1101')).toHaveLength(1);
  });

  test('an unconfirmed link expires like any other: a retry after 15 minutes sends nothing and links nothing', async () => {
    const token = tokenOf((await link(other.projectId, other.tokens.creator)).body.data.url);
    await table.accounts.setTelegramChat(other.projectId, '1200');
    fake.failNext('sendMessage', 1, telegramErrors.badGateway());
    expect((await update(`/start ${token}`, 1201, TEST_WEBHOOK_SECRET, 40)).status).toBe(500);
    await table.accounts.setTelegramChat(other.projectId, '1200');

    clock.advance(15 * 60_000 + 1);
    const retry = await update(`/start ${token}`, 1201, TEST_WEBHOOK_SECRET, 40);
    clock.set(new Date('2026-11-21T12:00:00Z'));
    expect(retry.body.data.outcome).toBe('refused');
    expect(await chatOf(other.projectId)).toBe('1200');
    expect(fake.messagesTo('1201')).toEqual([expect.stringContaining('expired or was already used')]);
  });

  test.each([
    ['an object', { id: 1 }],
    ['an array', [1, 2]],
    ['a boolean', true],
    ['null', null],
    ['a string', '1301'],
    ['a fraction', 1301.5],
    ['beyond 2^53', 2 ** 60],
  ])('a chat id that is %s is ignored and leaves the token usable', async (_what, chatId) => {
    const token = tokenOf((await link()).body.data.url);
    const before = await chatOf(team.projectId);
    const sends = fake.callsTo('sendMessage').length;
    const answer = await update(`/start ${token}`, chatId);
    expect(answer.status).toBe(200);
    expect(answer.body.data.outcome).toBe('ignored');
    expect(await chatOf(team.projectId)).toBe(before);
    expect(fake.callsTo('sendMessage')).toHaveLength(sends);
    expect((await update(`/start ${token}`, 1302)).body.data.outcome).toBe('linked');
  });

  test('a group’s negative chat id links', async () => {
    const token = tokenOf((await link()).body.data.url);
    expect((await update(`/start ${token}`, -1001234567890)).body.data.outcome).toBe('linked');
    expect(await chatOf(team.projectId)).toBe('-1001234567890');
    expect(fake.messagesTo('-1001234567890')).toHaveLength(1);
  });

  test('an update Telegram permanently refuses to answer is a 200, so it is not retried forever', async () => {
    const token = tokenOf((await link()).body.data.url);
    fake.blockChat(1401);
    const blocked = await update(`/start ${token}`, 1401, TEST_WEBHOOK_SECRET, 50);
    expect(blocked.status).toBe(200);
    expect(blocked.body.data.outcome).toBe('undeliverable');

    fake.failChat(1402, telegramErrors.chatNotFound());
    const unknown = await update('/start', 1402, TEST_WEBHOOK_SECRET, 51);
    expect(unknown.status).toBe(200);
    expect(unknown.body.data.outcome).toBe('undeliverable');
  });
});
