import type { TelegramLinkStore } from '../../functions/domain/ports';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { InMemoryTelegramLinkStore } from '../support/telegram-link-doubles';

// One contract, two implementations: the in-memory double the use-case tests may run on, and the
// DynamoDB store (DynamoAccountStore) on DynamoDB Local. A case that passes on one and fails on
// the other is a double that drifted from the real store.
let table: TestTable | undefined;
afterAll(async () => table?.drop());

const implementations: Array<[string, () => Promise<TelegramLinkStore>]> = [
  ['in memory', async () => new InMemoryTelegramLinkStore()],
  ['DynamoDB', async () => (table ??= await createTestTable()).accounts],
];

const NOW = new Date('2026-12-03T12:00:00.000Z');
const later = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
const LINK = { projectId: 'prj_links', teamId: 'team_links', expiresAt: later(600).toISOString() };
let counter = 0;
/** A token hash no other case uses (the DynamoDB half shares one table). */
const aHash = () => `hash_${Date.now()}_${++counter}`;

describe.each(implementations)('the Telegram link token store (%s)', (_name, open) => {
  let store: TelegramLinkStore;
  beforeAll(async () => {
    store = await open();
  });

  test('an unknown token is refused', async () => {
    expect(await store.useLinkToken(aHash(), 'chat_1', NOW)).toEqual({ outcome: 'refused' });
  });

  test('the first use is usable, with the link and the chat that used it', async () => {
    const hash = aHash();
    await store.putLinkToken(hash, LINK);
    expect(await store.useLinkToken(hash, 'chat_1', NOW)).toEqual({
      outcome: 'usable',
      repeated: false,
      link: { ...LINK, usedByChat: 'chat_1', confirmedAt: null },
    });
  });

  test('the same chat again before the confirmation is a repeated use; another chat is refused, before and after it', async () => {
    const hash = aHash();
    await store.putLinkToken(hash, LINK);
    await store.useLinkToken(hash, 'chat_1', NOW);
    expect(await store.useLinkToken(hash, 'chat_2', later(1))).toEqual({ outcome: 'refused' });
    expect(await store.useLinkToken(hash, 'chat_1', later(2))).toMatchObject({ outcome: 'usable', repeated: true, link: { usedByChat: 'chat_1' } });
    await store.confirmLinkToken(hash, later(3));
    expect(await store.useLinkToken(hash, 'chat_2', later(4))).toEqual({ outcome: 'refused' });
  });

  test('once confirmed, the same chat replays as done, and a second confirmation keeps the first time', async () => {
    const hash = aHash();
    await store.putLinkToken(hash, LINK);
    await store.useLinkToken(hash, 'chat_1', NOW);
    await store.confirmLinkToken(hash, later(5));
    await store.confirmLinkToken(hash, later(9));
    expect(await store.useLinkToken(hash, 'chat_1', later(10))).toEqual({
      outcome: 'done',
      link: { ...LINK, usedByChat: 'chat_1', confirmedAt: later(5).toISOString() },
    });
  });

  test('an expired token is never usable, used or not; a confirmed use still replays as done', async () => {
    const [unused, unconfirmed, confirmed] = [aHash(), aHash(), aHash()];
    for (const hash of [unused, unconfirmed, confirmed]) await store.putLinkToken(hash, LINK);
    await store.useLinkToken(unconfirmed, 'chat_1', NOW);
    await store.useLinkToken(confirmed, 'chat_1', NOW);
    await store.confirmLinkToken(confirmed, NOW);
    const expiry = new Date(LINK.expiresAt);
    expect(await store.useLinkToken(unused, 'chat_1', expiry)).toEqual({ outcome: 'refused' });
    expect(await store.useLinkToken(unconfirmed, 'chat_1', expiry)).toEqual({ outcome: 'refused' });
    expect(await store.useLinkToken(confirmed, 'chat_1', expiry)).toMatchObject({ outcome: 'done' });
  });

  test('confirming a token no chat used fails and leaves it usable', async () => {
    const hash = aHash();
    await store.putLinkToken(hash, LINK);
    await expect(store.confirmLinkToken(hash, NOW)).rejects.toThrow();
    expect(await store.useLinkToken(hash, 'chat_1', NOW)).toMatchObject({ outcome: 'usable', repeated: false });
  });

  test('two chats using one token at once: exactly one gets it', async () => {
    const hash = aHash();
    await store.putLinkToken(hash, LINK);
    const uses = await Promise.all(['chat_1', 'chat_2', 'chat_3'].map((chat) => store.useLinkToken(hash, chat, NOW)));
    expect(uses.filter((use) => use.outcome === 'usable')).toHaveLength(1);
    expect(uses.filter((use) => use.outcome === 'refused')).toHaveLength(2);
  });
});
