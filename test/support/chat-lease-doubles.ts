import type { ChatLeases, WaitingJob } from '../../functions/domain/chat-leases';

/**
 * Chat leases in memory, holding to the port's rules as DynamoChatLeases does: a lease taken when
 * the chat is free, lapsed or already the job's; waiters handed the chat oldest first (by the
 * job's creation, then id); a release by a job that does not hold the chat changes nothing but
 * dropping its own wait. test/pipeline/chat-leases.test.ts runs the same cases over both.
 */
export class InMemoryChatLeases implements ChatLeases {
  private readonly leases = new Map<string, { jobId: string; until: string }>();
  /** Per chat: waiting jobs by `createdAt#id`, the order they are handed the chat in. */
  private readonly waiters = new Map<string, Map<string, string>>();

  async acquire(chatId: string, job: WaitingJob, until: Date, now: Date): Promise<boolean> {
    const lease = this.leases.get(chatId);
    if (lease && lease.jobId !== job.id && lease.until >= now.toISOString()) return false;
    this.leases.set(chatId, { jobId: job.id, until: until.toISOString() });
    this.line(chatId).delete(waitKey(job));
    return true;
  }

  async wait(chatId: string, job: WaitingJob): Promise<void> {
    this.line(chatId).set(waitKey(job), job.id);
  }

  async release(chatId: string, job: WaitingJob, handOnUntil: Date): Promise<string | undefined> {
    this.line(chatId).delete(waitKey(job));
    if (this.leases.get(chatId)?.jobId !== job.id) return undefined;
    const next = this.oldestWaiter(chatId, job.id);
    if (next) {
      this.leases.set(chatId, { jobId: next, until: handOnUntil.toISOString() });
      return next;
    }
    // Nothing runs between reading the line and freeing the chat here, unlike on the table: no
    // waiter can arrive in between, so none is left to hand the chat to afterwards.
    this.leases.delete(chatId);
    return undefined;
  }

  async holder(chatId: string, now: Date): Promise<string | undefined> {
    const lease = this.leases.get(chatId);
    return lease && lease.until >= now.toISOString() ? lease.jobId : undefined;
  }

  private line(chatId: string): Map<string, string> {
    let line = this.waiters.get(chatId);
    if (!line) this.waiters.set(chatId, (line = new Map()));
    return line;
  }

  private oldestWaiter(chatId: string, except: string): string | undefined {
    return [...this.line(chatId)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, id]) => id).find((id) => id !== except);
  }
}

const waitKey = (job: WaitingJob) => `${job.createdAt}#${job.id}`;
