import { DynamoChatLeases } from '../../functions/adapters/dynamodb/chat-leases';
import type { ChatLeases } from '../../functions/domain/chat-leases';
import { InMemoryChatLeases } from '../support/chat-lease-doubles';
import { createTestTable, type TestTable } from '../support/dynamodb';

// One contract, two implementations: the in-memory double and the table's (DynamoChatLeases on
// DynamoDB Local). A case that passes on one and fails on the other is a double that drifted.
let table: TestTable | undefined;
afterAll(async () => table?.drop());

const implementations: Array<[string, () => Promise<ChatLeases>]> = [
  ['in memory', async () => new InMemoryChatLeases()],
  ['DynamoDB', async () => {
    table ??= await createTestTable();
    return new DynamoChatLeases(table.db, table.tableName);
  }],
];

const T0 = new Date('2026-05-18T10:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const job = (id: string, createdSecond: number) => ({ id, createdAt: at(createdSecond).toISOString() });
let n = 0;
const newChat = () => `chat-${process.pid}-${++n}`;

describe.each(implementations)('chat leases: one delivering job per chat (%s)', (_name, open) => {
  let chats: ChatLeases;
  beforeAll(async () => {
    chats = await open();
  });

  test('the first job takes a free chat; another is refused while the lease runs, and may take it once it lapsed', async () => {
    const chat = newChat();
    expect(await chats.acquire(chat, job('a', 0), at(60), at(0))).toBe(true);
    expect(await chats.acquire(chat, job('b', 1), at(70), at(10))).toBe(false);
    expect(await chats.holder(chat, at(10))).toBe('a');
    // The holder extends its own lease.
    expect(await chats.acquire(chat, job('a', 0), at(120), at(50))).toBe(true);
    expect(await chats.acquire(chat, job('b', 1), at(130), at(100))).toBe(false);
    // Held up to and including its last instant.
    expect(await chats.holder(chat, at(120))).toBe('a');
    expect(await chats.acquire(chat, job('b', 1), at(130), at(120))).toBe(false);
    expect(await chats.holder(chat, at(121))).toBeUndefined();
    expect(await chats.acquire(chat, job('b', 1), at(200), at(121))).toBe(true);
  });

  test('waiting jobs are handed the chat in the order they were created, whatever order they started waiting in', async () => {
    const chat = newChat();
    await chats.acquire(chat, job('a', 0), at(60), at(0));
    await chats.wait(chat, job('c', 3));
    await chats.wait(chat, job('b', 2));
    await chats.wait(chat, job('b', 2)); // idempotent

    expect(await chats.release(chat, job('a', 0), at(90), at(30))).toBe('b');
    expect(await chats.holder(chat, at(31))).toBe('b');
    // The next in line cannot jump ahead; the one handed the chat takes it, ending its wait.
    expect(await chats.acquire(chat, job('c', 3), at(90), at(31))).toBe(false);
    expect(await chats.acquire(chat, job('b', 2), at(100), at(32))).toBe(true);
    expect(await chats.release(chat, job('b', 2), at(120), at(40))).toBe('c');
    expect(await chats.acquire(chat, job('c', 3), at(130), at(41))).toBe(true);
    expect(await chats.release(chat, job('c', 3), at(150), at(50))).toBeUndefined();
    expect(await chats.holder(chat, at(51))).toBeUndefined();
  });

  test('a waiter that ended without its turn is dropped when it passes the chat on, and not handed the chat again', async () => {
    const chat = newChat();
    await chats.acquire(chat, job('a', 0), at(60), at(0));
    await chats.wait(chat, job('dead', 1));
    await chats.wait(chat, job('c', 2));
    expect(await chats.release(chat, job('a', 0), at(90), at(10))).toBe('dead');
    // Handed the chat, the ended job passes it on at once, leaving the line with it.
    expect(await chats.release(chat, job('dead', 1), at(90), at(11))).toBe('c');
    await chats.acquire(chat, job('c', 2), at(100), at(12));
    expect(await chats.release(chat, job('c', 2), at(120), at(20))).toBeUndefined();
  });

  test('three jobs taking a free chat at once: exactly one holds it', async () => {
    const chat = newChat();
    const taken = await Promise.all(['a', 'b', 'c'].map((id, i) => chats.acquire(chat, job(id, i), at(60), at(0))));
    expect(taken.filter(Boolean)).toHaveLength(1);
    expect(await chats.holder(chat, at(1))).toBe(['a', 'b', 'c'][taken.indexOf(true)]);
  });

  test('a job that does not hold the chat cannot release it', async () => {
    const chat = newChat();
    await chats.acquire(chat, job('a', 0), at(60), at(0));
    await chats.wait(chat, job('b', 1));
    expect(await chats.release(chat, job('b', 1), at(90), at(10))).toBeUndefined();
    expect(await chats.holder(chat, at(10))).toBe('a');
  });
});
