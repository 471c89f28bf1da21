import { DeliveryRefusedError, ResourceNotFoundError } from '../../functions/domain/errors';
import type { TelegramSender } from '../../functions/domain/ports';
import { createTelegramLink, handleTelegramUpdate, LINK_TTL_MS } from '../../functions/use-cases/telegram-link';
import { InMemoryAccountStore } from '../support/account-doubles';
import { FakeClock } from '../support/clock';

// The chat-link use cases over in-memory ports (their stores' contract suites run the same cases
// over DynamoDB: test/adapters/account-store.test.ts, test/adapters/telegram-link-store.test.ts).

/** The chat side of Telegram: what the bot said in each chat, and a way to make the next sends fail. */
class RecordingChats implements TelegramSender {
  readonly said: Array<{ chat: string; text: string }> = [];
  private failures: Error[] = [];
  failNext(error: Error): void {
    this.failures.push(error);
  }
  async sendMessage(chat: string, text: string): Promise<void> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.said.push({ chat, text });
  }
  async sendDocument(): Promise<void> {
    throw new Error('linking a chat sends no document');
  }
}

const T0 = new Date('2026-12-03T12:00:00.000Z');
const principal = { tokenId: 'tok_1', teamId: 'tea_1', abilities: ['project-access-code:create'] as const };

const setUp = async () => {
  const accounts = new InMemoryAccountStore();
  const clock = new FakeClock(T0);
  const telegram = new RecordingChats();
  await accounts.putTeam({ id: 'tea_1', name: 'Acme', createdAt: T0.toISOString() });
  await accounts.putProject({
    id: 'prj_1',
    teamId: 'tea_1',
    name: 'Members',
    telegramChatId: null,
    tier: { freeAllotment: 10, unitPriceMinor: 3, currency: 'USD' },
    stripeCustomerId: null,
    createdAt: T0.toISOString(),
  });
  const link = async (teamId = 'tea_1') => {
    const created = await createTelegramLink({ accounts, links: accounts, clock, botUsername: 'memberpass_bot' }, { ...principal, teamId }, { project_id: 'prj_1' });
    return { ...created, token: new URL(created.url).searchParams.get('start')! };
  };
  const update = (chat: number, text: string) => handleTelegramUpdate({ accounts, links: accounts, telegram, clock }, { update_id: 1, message: { chat: { id: chat }, text } });
  return { accounts, clock, telegram, link, update };
};

describe('linking a creator chat (in-memory ports)', () => {
  test('a link opens the bot with a one-time token valid for 15 minutes; another team cannot ask for one', async () => {
    const { link } = await setUp();
    const created = await link();
    expect(created.url).toMatch(/^https:\/\/t\.me\/memberpass_bot\?start=[A-Za-z0-9_-]{32}$/);
    expect(created).toMatchObject({ project_id: 'prj_1', linked_chat: false, expires_at: new Date(T0.getTime() + LINK_TTL_MS).toISOString() });
    await expect(link('tea_other')).rejects.toBeInstanceOf(ResourceNotFoundError);
  });

  test('/start with the token links the chat and says so once; the same update again changes and says nothing', async () => {
    const { accounts, telegram, link, update } = await setUp();
    const { token } = await link();
    expect(await update(-100123, `/start ${token}`)).toBe('linked');
    expect((await accounts.findProject('prj_1'))?.telegramChatId).toBe('-100123');
    expect(await update(-100123, `/start ${token}`)).toBe('repeated');
    expect(telegram.said).toEqual([{ chat: '-100123', text: 'Linked. Access codes for "Members" will arrive in this chat.' }]);
  });

  test('a failed confirmation fails the update; Telegram\'s retry links and confirms, once', async () => {
    const { accounts, telegram, link, update } = await setUp();
    const { token } = await link();
    telegram.failNext(new Error('socket hang up'));
    await expect(update(42, `/start ${token}`)).rejects.toThrow('socket hang up');
    expect(await update(42, `/start ${token}`)).toBe('linked');
    expect(await update(42, `/start ${token}`)).toBe('repeated');
    expect(telegram.said.map((s) => s.chat)).toEqual(['42']);
    expect((await accounts.findProject('prj_1'))?.telegramChatId).toBe('42');
  });

  test('a used token in another chat, an expired token and a bare /start are refused with a word, and link nothing', async () => {
    const { accounts, clock, telegram, link, update } = await setUp();
    const first = await link();
    await update(1, `/start ${first.token}`);
    expect(await update(2, `/start ${first.token}`)).toBe('refused');
    const second = await link();
    clock.advance(LINK_TTL_MS);
    expect(await update(3, `/start ${second.token}`)).toBe('refused');
    expect(await update(4, '/start')).toBe('refused');
    expect((await accounts.findProject('prj_1'))?.telegramChatId).toBe('1');
    expect(telegram.said.slice(1).map((s) => s.chat)).toEqual(['2', '3', '4']);
    expect(telegram.said[1]!.text).toMatch(/expired or was already used/);
    expect(telegram.said[3]!.text).toMatch(/open the link MemberPass gave you/);
  });

  test('Telegram refusing the chat for good ends the update as undeliverable; other messages are ignored', async () => {
    const { telegram, link, update } = await setUp();
    const { token } = await link();
    telegram.failNext(new DeliveryRefusedError('Forbidden: bot was blocked by the user'));
    expect(await update(7, `/start ${token}`)).toBe('undeliverable');
    expect(await update(7, 'hello')).toBe('ignored');
    expect(telegram.said).toEqual([]);
  });
});
