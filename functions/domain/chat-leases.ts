/** True for a group, supergroup or channel: Telegram gives them negative chat ids, users positive ones. */
export const isGroupChat = (chatId: string): boolean => chatId.trim().startsWith('-');

/** A job as its chat's turns see it: who, and its place in line. */
export interface WaitingJob {
  id: string;
  createdAt: string;
}

/**
 * One delivering job per chat at a time, so that a chat gets Telegram's ~1 message a second
 * across jobs, not per job. A job takes the chat's lease before its first send and keeps it
 * through its hand-overs; a job that finds the chat busy waits for its turn (in the order the
 * jobs were created) and is handed the chat when the holder ends. A holder that dies lets its
 * lease lapse, and the job sweeper then pushes the waiting job on.
 */
export interface ChatLeases {
  /**
   * Takes (or extends) the chat's lease for `jobId` until `until`: when the chat is free, its
   * lease lapsed, or it is already this job's (handed on to it). Also ends the job's wait.
   * False when another job holds the chat.
   */
  acquire(chatId: string, job: WaitingJob, until: Date, now: Date): Promise<boolean>;
  /** Records that the job waits for its turn at the chat (idempotent). */
  wait(chatId: string, job: WaitingJob): Promise<void>;
  /**
   * Ends `jobId`'s turn: hands the chat to the oldest waiting job (its lease runs until
   * `handOnUntil`, time for its delivery message to arrive) and returns that job's id, or frees
   * the chat and returns undefined. A wait of the job's own left behind is dropped. A no-op
   * (undefined) when the job does not hold the chat.
   */
  release(chatId: string, job: WaitingJob, handOnUntil: Date, now: Date): Promise<string | undefined>;
  /** The job holding the chat's unlapsed lease, if any. */
  holder(chatId: string, now: Date): Promise<string | undefined>;
}
