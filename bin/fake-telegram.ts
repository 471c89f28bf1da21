/**
 * `npm run fake-telegram`: a fake Telegram Bot API on 127.0.0.1, for trying delivery end to end
 * without a bot. Point the local stack at it:
 *
 *   TELEGRAM_BOT_TOKEN=any TELEGRAM_API_ROOT=<printed api root> npm start
 *
 * Options: --throttle-every N (answer every Nth send with 429, retry_after 1 s),
 * --out DIR (where received CSV files are written; default .local/fake-telegram).
 * It prints one line per call and, on Ctrl-C, a summary per chat.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeTelegram } from '../local/fakes/fake-telegram';

const { values } = parseArgs({
  options: { 'throttle-every': { type: 'string' }, out: { type: 'string', default: '.local/fake-telegram' } },
});

const main = async () => {
  const fake = await startFakeTelegram();
  const out = resolve(values.out ?? '.local/fake-telegram');
  mkdirSync(out, { recursive: true });
  const throttle = values['throttle-every'] ? Number(values['throttle-every']) : 0;
  if (throttle > 0) fake.throttleEvery(throttle, 1);
  console.log(`Fake Telegram Bot API listening.\n\n  TELEGRAM_API_ROOT=${fake.apiRoot}\n  documents → ${out}\n`);

  let seen = 0;
  const timer = setInterval(() => {
    for (const call of fake.calls.slice(seen)) {
      const chat = String(call.params.chat_id ?? '');
      for (const file of call.files) {
        if (call.status === 200) writeFileSync(join(out, `${chat}-${file.filename}`), file.content);
      }
      const what = call.files.length ? `${call.files[0]?.filename} (${call.files[0]?.content.split('\n').length} lines)` : String(call.params.text ?? '').slice(0, 60);
      console.log(`${new Date().toISOString()} ${call.status} ${call.method} chat=${chat} ${what}`);
    }
    seen = fake.calls.length;
  }, 200);

  const shutdown = async () => {
    clearInterval(timer);
    const chats = new Set(fake.calls.map((call) => String(call.params.chat_id ?? '')).filter(Boolean));
    for (const chat of chats) {
      console.log(`chat ${chat}: ${fake.messagesTo(chat).length} messages, ${fake.documentsTo(chat).length} documents delivered`);
    }
    await fake.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
};

void main();
