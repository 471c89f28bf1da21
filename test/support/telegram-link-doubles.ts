import type { LinkTokenUse, TelegramLinkStore, TelegramLinkToken } from '../../functions/domain/ports';

/**
 * The Telegram link token store in memory, holding to the port's rules (usable while unexpired
 * and unused, or used by the same chat and not yet confirmed; a confirmed use replays as done).
 * test/adapters/telegram-link-store.test.ts runs the same cases over it and over DynamoDB.
 */
export class InMemoryTelegramLinkStore implements TelegramLinkStore {
  private readonly links = new Map<string, TelegramLinkToken>();

  async putLinkToken(tokenHash: string, link: Omit<TelegramLinkToken, 'usedByChat' | 'confirmedAt'>): Promise<void> {
    this.links.set(tokenHash, { ...link, usedByChat: null, confirmedAt: null });
  }

  async useLinkToken(tokenHash: string, chatId: string, now: Date): Promise<LinkTokenUse> {
    const link = this.links.get(tokenHash);
    if (!link) return { outcome: 'refused' };
    const unexpired = link.expiresAt > now.toISOString();
    if (unexpired && (link.usedByChat === null || (link.usedByChat === chatId && link.confirmedAt === null))) {
      const repeated = link.usedByChat === chatId;
      link.usedByChat = chatId;
      return { outcome: 'usable', link: { ...link }, repeated };
    }
    return link.usedByChat === chatId && link.confirmedAt !== null ? { outcome: 'done', link: { ...link } } : { outcome: 'refused' };
  }

  async confirmLinkToken(tokenHash: string, now: Date): Promise<void> {
    const link = this.links.get(tokenHash);
    if (!link || link.usedByChat === null) throw new Error(`The link token ${tokenHash} was never used.`);
    link.confirmedAt ??= now.toISOString();
  }
}
