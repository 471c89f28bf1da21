import { randomUUID } from 'node:crypto';
import { appendFile, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock, type TelegramSender } from '../../domain/ports';

/** One line of `messages.jsonl`: a text message, or a document saved next to it. */
export type OutboxEntry =
  | { at: string; chat_id: string; text: string }
  | { at: string; chat_id: string; document: string; caption: string };

/** The folder, under the local data dir, where the outbox sender writes. */
export const outboxFolder = (dataDir: string): string => join(dataDir, 'telegram-outbox');

/**
 * The `TelegramSender` port for the local stack without a bot token: each document becomes a
 * file in `<dataDir>/telegram-outbox/`, and every delivery one JSON line in `messages.jsonl`
 * there, so a developer can read what a creator would have received. It never refuses or throttles.
 */
export class OutboxTelegramSender implements TelegramSender {
  private readonly folder: string;

  constructor(
    dataDir: string,
    private readonly clock: Clock = systemClock,
  ) {
    this.folder = outboxFolder(dataDir);
  }

  /** Writes the document to `<timestamp>-<chat>-<filename>` and logs a line pointing at it. */
  async sendDocument(chatId: string, document: { filename: string; content: string; caption: string }): Promise<void> {
    const at = this.clock.now();
    await mkdir(this.folder, { recursive: true });
    const path = await this.writeNewFile(`${fileStamp(at)}-${safeName(chatId)}-${safeName(document.filename)}`, document.content);
    await this.appendLine({ at: at.toISOString(), chat_id: chatId, document: path, caption: document.caption });
  }

  /** Appends the message as one line of `messages.jsonl`. */
  async sendMessage(chatId: string, text: string): Promise<void> {
    await mkdir(this.folder, { recursive: true });
    await this.appendLine({ at: this.clock.now().toISOString(), chat_id: chatId, text });
  }

  /**
   * Writes to a temporary name, then hard-links it into place: a reader never sees a half
   * file, and a second document with the same name in the same millisecond gets a suffix
   * instead of overwriting the first (link, unlike rename, fails when the target exists).
   */
  private async writeNewFile(name: string, content: string): Promise<string> {
    const temporary = join(this.folder, `.${randomUUID()}.tmp`);
    await writeFile(temporary, content, 'utf8');
    try {
      for (let attempt = 0; ; attempt++) {
        const target = join(this.folder, attempt === 0 ? name : withSuffix(name, attempt));
        try {
          await link(temporary, target);
          return target;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
      }
    } finally {
      await unlink(temporary);
    }
  }

  /** One `appendFile` per line: O_APPEND keeps concurrent lines whole on a local disk. */
  private async appendLine(entry: OutboxEntry): Promise<void> {
    await appendFile(join(this.folder, 'messages.jsonl'), `${JSON.stringify(entry)}\n`, 'utf8');
  }
}

/** Every line of the outbox so far, oldest first; empty when nothing was sent. */
export const readOutbox = async (dataDir: string): Promise<OutboxEntry[]> => {
  let text: string;
  try {
    text = await readFile(join(outboxFolder(dataDir), 'messages.jsonl'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as OutboxEntry);
};

/** `2026-05-01T12:00:00.123Z` → `20260501T120000123Z`: sortable, and legal on every file system. */
const fileStamp = (at: Date): string => at.toISOString().replace(/[-:.]/g, '');

/** Keeps a chat id or file name to one harmless path segment. */
const safeName = (value: string): string => value.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') || '_';

const withSuffix = (name: string, n: number): string => {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)}-${n}${name.slice(dot)}` : `${name}-${n}`;
};
