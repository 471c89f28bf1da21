import type { Tier } from './cost';
import type { EventEnvelope } from '../contracts/events';
import type { PipelineMessage } from '../contracts/queue-messages';
import type { AccessCodeRecord, AccessCodeStatus } from './access-code-record';
import type { CodeGenerator } from './access-codes';
import type { Job, JobFailure } from './jobs';
import type { ChatLeases } from './chat-leases';
import type { ApiToken, Plan, Project, Team } from './model';
import type { CodeForRedemption, Redemption, RedemptionIds, Subscription } from './redemption';
import type { BillingRecord, BillingWindow, MeteredUsage } from './billing';
import type { BillingMessage } from '../contracts/queue-messages';
import type { BatchExpiry, BatchRef, DueCode, DueCursor } from './expiry-sweep';
import type {
  AttemptResult,
  CheckedTarget,
  DeliveryStatus,
  EventSubscription,
  EndpointDisabledReason,
  UrlCheck,
  WebhookAttempt,
  WebhookDelivery,
  WebhookEndpoint,
} from './webhooks';

/** Reads of the account data (teams, projects, plans, tokens, usage) the API needs. */
export interface AccountReader {
  findTokenByHash(tokenHash: string): Promise<ApiToken | undefined>;
  findPlan(planId: string): Promise<Plan | undefined>;
  findProject(projectId: string): Promise<Project | undefined>;
  /** Units of a project's free allotment used in a billing period (`YYYY-MM`); 0 when none. */
  freeAllotmentUsed(projectId: string, period: string): Promise<number>;
}

/** Writes of account data, used by the admin CLI. */
export interface AccountWriter {
  findTeam(teamId: string): Promise<Team | undefined>;
  putTeam(team: Team): Promise<void>;
  putProject(project: Project): Promise<void>;
  putPlan(plan: Plan): Promise<void>;
  putToken(token: ApiToken, tokenHash: string): Promise<void>;
  deleteToken(tokenHash: string): Promise<void>;
  setTelegramChat(projectId: string, chatId: string | null): Promise<void>;
  setTier(projectId: string, tier: Tier, stripeCustomerId?: string | null): Promise<void>;
  /** Reads a small named record the admin keeps for itself (e.g. the demo seed). */
  getMarker<T>(name: string): Promise<T | undefined>;
  /** Writes it only when absent; returns false when another writer got there first. */
  putMarkerIfAbsent<T>(name: string, value: T): Promise<boolean>;
  putMarker<T>(name: string, value: T): Promise<void>;
}

/** The account store: what the API reads, what the admin writes, and the chat-link tokens. */
export type AccountStore = AccountReader & AccountWriter & TelegramLinkStore;

/** Whether the service's table can be read right now; the health check's port. */
export interface TableProbe {
  /** Resolves when one read succeeded; rejects on any error, or when `signal` aborts first. */
  check(signal: AbortSignal): Promise<void>;
}

/** The current time; a fake one in tests. */
export interface Clock {
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/**
 * The creator's Telegram chat, as delivery sees it. Implementations throw
 * `DeliveryRefusedError` for permanent refusals and `DeliveryThrottledError` on 429;
 * any other error is transient.
 */
export interface TelegramSender {
  sendDocument(chatId: string, document: { filename: string; content: string; caption: string }): Promise<void>;
  sendMessage(chatId: string, text: string): Promise<void>;
}

/** A queue of messages of type M (SQS in AWS). At-least-once: every consumer must be idempotent. */
export interface MessageQueue<M> {
  /** Enqueues all messages or throws; `delaySeconds` (0..900) postpones visibility. */
  send(messages: ReadonlyArray<{ body: M; delaySeconds?: number }>): Promise<void>;
}

/** The generation queue. */
export type JobQueue = MessageQueue<PipelineMessage>;

/** Publishes committed events to the event bus (EventBridge in AWS). */
export interface EventPublisher {
  /** Publishes all events or throws; a retry may publish some again, with the same ids. */
  publish(events: ReadonlyArray<EventEnvelope>): Promise<void>;
}

/** A one-time link token waiting for the creator to press Start in Telegram. */
export interface TelegramLinkToken {
  projectId: string;
  teamId: string;
  expiresAt: string;
  /** The chat that used it, once used. */
  usedByChat: string | null;
  /** When the chat was told it is linked; until then a retry of the same update may finish the job. */
  confirmedAt: string | null;
}

/** What trying a link token found. */
export type LinkTokenUse =
  /** This call used it (`repeated: false`), or the same chat used it before and was not yet told (`repeated: true`). */
  | { outcome: 'usable'; link: TelegramLinkToken; repeated: boolean }
  /** The same chat used it and was told: a replay, nothing to do. */
  | { outcome: 'done'; link: TelegramLinkToken }
  /** Unknown, expired, or used by another chat. */
  | { outcome: 'refused' };

/** Storage of one-time Telegram link tokens, by the hash of the token. */
export interface TelegramLinkStore {
  putLinkToken(tokenHash: string, link: Omit<TelegramLinkToken, 'usedByChat' | 'confirmedAt'>): Promise<void>;
  /**
   * Marks an unexpired token used by `chatId`. Usable while unexpired and either unused or used
   * by the same chat without a confirmation yet (the retry of an update whose reply failed);
   * an expired token is never usable, whoever used it.
   */
  useLinkToken(tokenHash: string, chatId: string, now: Date): Promise<LinkTokenUse>;
  /** Records that the chat was told it is linked; later replays of the update change nothing. */
  confirmLinkToken(tokenHash: string, now: Date): Promise<void>;
}

/** The Idempotency-Key of a request, scoped to the caller's team. */
export interface IdempotencyClaim {
  teamId: string;
  key: string;
  /** Hash of the request body: the same key with another body is refused. */
  requestHash: string;
  /** The claim is honoured until then. */
  expiresAt: Date;
}

/** What creating a job under an Idempotency-Key found. */
export type CreateJobResult =
  | { outcome: 'created' }
  | { outcome: 'replayed'; jobId: string }
  | { outcome: 'key-reused' };

/** Storage of the job aggregate: its lifecycle, progress counters and delivery lease. */
export interface JobStore {
  /** Writes a new job, atomically with its idempotency claim when there is one. */
  createJob(job: Job, claim?: IdempotencyClaim): Promise<CreateJobResult>;
  /** The job (strongly consistent), or undefined; `countStored` tells its progress while generating. */
  getJob(jobId: string): Promise<Job | undefined>;
  /** queued → processing; a no-op otherwise. */
  markProcessing(jobId: string, now: Date): Promise<void>;
  /** Codes stored so far for a job (strongly consistent). */
  countStored(jobId: string): Promise<number>;
  /**
   * Marks the batch generated and commits its access_code.generated event in one transaction.
   * True for the one caller that did it; false when it was done before or the job ended.
   */
  markGenerated(jobId: string, event: EventEnvelope, now: Date): Promise<boolean>;
  /** Takes the delivery lease of a generated, unfinished job; undefined when someone else holds it. */
  acquireDeliveryLease(jobId: string, owner: string, until: Date, now: Date): Promise<Job | undefined>;
  /** Records delivery progress under the lease; false when the lease was lost. */
  recordDelivered(jobId: string, owner: string, deliveredCount: number, now: Date): Promise<boolean>;
  /** Gives the lease back (so that the next delivery message can take it at once). */
  releaseLease(jobId: string, owner: string): Promise<void>;
  /** processing → completed under the lease. */
  completeJob(jobId: string, owner: string, now: Date): Promise<boolean>;
  /** queued|processing → failed; false when the job had already ended. */
  failJob(jobId: string, failure: JobFailure, now: Date): Promise<boolean>;
  /** Jobs not yet completed or failed, oldest first, up to `limit`. */
  activeJobs(limit: number): Promise<Job[]>;
  /**
   * Notes that the sweeper pushed the job on: the `streak` of pushes without progress and the
   * job's `updatedAt` it saw (progress moves `updatedAt`, a push does not).
   */
  recordRequeue(jobId: string, now: Date, streak: number, seenUpdatedAt: string): Promise<void>;
}

/** What a listing of a plan's codes is restricted to; `asOf` is the instant statuses are judged at. */
export interface CodeFilter {
  jobId?: string;
  status?: AccessCodeStatus;
  asOf: Date;
}

/**
 * Where a listing stopped: which part of the listing (see `statusParts`) and the index position
 * of the last code read in it. Never a code; sealed into an opaque cursor before it leaves.
 */
export interface CodePosition {
  part: number;
  after: string | null;
}

/** A page of codes and where the next one starts (null at the end). */
export interface CodePage {
  codes: AccessCodeRecord[];
  next: CodePosition | null;
}

/** A write rate limit: `take(n)` resolves when n more writes may go. */
export interface Pace {
  take(count: number): Promise<void>;
}

/** Storage of the access codes: generation writes them, listing, redemption and expiry read and move them. */
export interface CodeStore {
  /**
   * Stores one code per slot not yet filled, each unique service-wide (a collision takes the
   * slot's next candidate). Slots filled before (a redelivered chunk, or the same chunk running
   * at once) are left alone and not counted again. `slots` are whole chunks of the job
   * (`chunkSlots`). Returns how many slots this call filled. `pace`, when given, is asked
   * before each code's write.
   */
  storeCodes(job: Job, slots: readonly number[], generate: CodeGenerator, now: Date, pace?: Pace): Promise<number>;
  /** The job's codes in slot order from slot `fromSlot` on (strongly consistent). */
  jobCodes(jobId: string, fromSlot?: number, limit?: number): Promise<Array<{ slot: number; code: string }>>;
  /**
   * A page of a plan's codes, optionally of one job and/or one status as shown at `asOf`
   * (`codeStatusAt`). Every call reads a bounded number of items whatever the filter: the page
   * may be short, with a `next` position, when the bound is reached. Orders:
   * no status: job then slot; `active`: expiry (soonest first, no expiry last) then job, slot;
   * `redeemed`: job then slot; `expired`: codes marked expired (job, slot), then active codes
   * past their expiry (expiry, job, slot). Throws `InvalidCursorError` for a position that does
   * not belong to this filter.
   */
  listCodes(planId: string, filter: CodeFilter, page: { limit: number; after?: CodePosition }): Promise<CodePage>;
  /** One code by its canonical form (strongly consistent), or undefined. */
  getCode(code: string): Promise<AccessCodeRecord | undefined>;
  /**
   * active → expired for a code whose expiry has passed at `now`, in one conditional write that
   * also moves its listing index keys; false when it is not (or no longer) such a code.
   */
  expireCode(code: string, now: Date): Promise<boolean>;
}

/** Seals listing positions into opaque, tamper-evident cursors bound to what they were issued for. */
export interface CursorCodec {
  /** An opaque cursor for `position`, valid only with the same `context`. */
  seal(position: unknown, context: string): Promise<string>;
  /** The position sealed into `cursor` with `context`; undefined for any other string. */
  open(cursor: string, context: string): Promise<unknown>;
}

/** A cursor this listing did not issue (malformed, tampered with, or issued for another listing). */
export class InvalidCursorError extends Error {}

/** What one redemption commit needs: the code as read, who redeems it, the plan and project, and its ids. */
export interface RedemptionRequest {
  code: CodeForRedemption;
  subscriberId: string;
  plan: Pick<Plan, 'id' | 'teamId' | 'projectId'>;
  /** Its tier decides the billing; its Stripe customer (or none) goes on the usage record. */
  project: Pick<Project, 'id' | 'tier' | 'stripeCustomerId'>;
  ids: RedemptionIds;
  /** Read at each attempt: the redemption time is the commit's. */
  clock: Clock;
}

/** What a redemption commit did. */
export type RedemptionCommitResult =
  | { outcome: 'redeemed'; redemption: Redemption; attempts: number }
  /** The code was no longer redeemable at the commit (redeemed or expired meanwhile): read it again. */
  | { outcome: 'code-changed' };

/** Redemptions of access codes and the subscriptions they create (DynamoDB). */
export interface RedemptionStore {
  /** The code as redemption needs it (where it belongs, its state, its redemption), or undefined. */
  findCode(code: string): Promise<CodeForRedemption | undefined>;
  /** True once the code's job stored its whole batch: a code of an unfinished job does not exist yet for anyone. */
  isBatchGenerated(jobId: string): Promise<boolean>;
  /**
   * Redeems the code in one commit, conditioned on the code being active, of the plan's team,
   * and not expired at the commit's time: the code with its redemption and answer, one unit of
   * the period's free allotment or else the usage record, the subscription and the
   * access_code.redeemed event (`redemptionCommit` decides what each holds). Retries AWS's
   * conflicts and throttles itself, within a bounded time.
   */
  redeem(request: RedemptionRequest): Promise<RedemptionCommitResult>;
  getSubscription(subscriptionId: string): Promise<Subscription | undefined>;
}

// Billing.

/**
 * Reports billable usage to the billing provider (Stripe Billing Meters in production).
 * Implementations resolve when the usage is recorded, including when it had been recorded
 * before under the same identifier (a duplicate is success); they throw
 * `BillingUnavailableError` when trying again later can help (401, 403, 409, 429, 5xx,
 * network, timeout) and `BillingRejectedError` when it cannot (any other 4xx: the payload
 * itself is refused).
 */
export interface UsageBiller {
  reportUsage(usage: MeteredUsage): Promise<void>;
}

/**
 * The billing queue (SQS FIFO in AWS): one group per Stripe customer, so that one customer's
 * meter calls go one at a time while different customers go in parallel.
 */
export interface BillingQueue {
  /** Enqueues all messages or throws; sending one again is harmless. */
  send(messages: readonly BillingMessage[]): Promise<void>;
}

/** A received billing queue message, as far as redelivering it goes. */
export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  /** The queue's ARN. */
  eventSourceARN: string;
}

/** Makes the queue deliver a received message again after a delay (SQS: its visibility timeout). */
export interface Redelivery {
  after(message: ReceivedMessage, delayMs: number): Promise<void>;
}

/**
 * The billing records of billed redemptions and their windows (DynamoDB). Every move is
 * conditional on the state it moves from, so two callers racing move a record once.
 */
export interface BillingStore {
  /** The records by redemption id (strongly consistent); missing ones are left out. */
  records(redemptionIds: readonly string[]): Promise<BillingRecord[]>;
  /**
   * Claims `records` (queued, of `window.stripeCustomerId` and `window.period`) into the new
   * window, all or none: false when one of them was moved meanwhile (read again and retry).
   */
  createWindow(window: BillingWindow, at: Date): Promise<boolean>;
  window(windowId: string): Promise<BillingWindow | undefined>;
  windows(windowIds: readonly string[]): Promise<BillingWindow[]>;
  /** Stripe has the window's event: the window and its records become billed, together. Idempotent. */
  markWindowBilled(window: BillingWindow, at: Date): Promise<void>;
  /** A try failed in a way a later one can cure: counts it and sets when the next is due. */
  recordWindowFailure(window: BillingWindow, failure: { attempts: number; nextAttemptAt: Date; error: string; firstFailureAt: Date }, at: Date): Promise<void>;
  /** Stripe refused the window's payload for good: the window and its records are parked. */
  parkWindow(window: BillingWindow, reason: string, at: Date): Promise<void>;
  /** Windows due to be sent (the claim's lease or the retry delay is over) and records not yet in one, older than `before`. */
  due(input: { windowsDueBy: Date; recordsOlderThan: Date; limit: number }): Promise<{ windows: BillingWindow[]; records: BillingRecord[] }>;
  /** A pending record whose project still has no customer leaves the sweep's index; set-tier queues it later. */
  settlePending(record: BillingRecord, at: Date): Promise<void>;
  /** Moves the project's pending records to `queued` for `stripeCustomerId`; how many moved. */
  requeuePending(projectId: string, stripeCustomerId: string, at: Date): Promise<number>;
  /** Parked records (of one project, or all); oldest first. */
  parkedRecords(projectId?: string): Promise<BillingRecord[]>;
  /** Moves a pending or parked record to `queued` for `stripeCustomerId`, once; false when it is not in `from` any more. */
  requeueRecord(record: BillingRecord, from: 'pending' | 'parked', stripeCustomerId: string, at: Date): Promise<boolean>;
  /** A project's pending records. */
  pendingForProject(projectId: string): Promise<BillingRecord[]>;
  /** A project's billing records of one period. */
  billingRecords(projectId: string, period: string): Promise<BillingRecord[]>;
  /** True once the redemption's usage is at Stripe. */
  isBilled(redemptionId: string): Promise<boolean>;
}

// Expiry.

/** The codes whose expiry has passed, the moves out of `active` the sweep makes, and batch expiry changes. */
export interface ExpiryStore {
  /**
   * Up to `limit` live codes with `expires_at <= now`, soonest first within each bucket of the
   * expiry index, from where `from` (the `next` of the previous page) left each bucket; `more`
   * when some were left. Reads only due codes.
   */
  dueCodes(now: Date, limit: number, from?: DueCursor): Promise<{ codes: DueCode[]; more: boolean; next: DueCursor }>;
  /**
   * active → expired for each code still active and due at `now`, each with its
   * access_code.expired event in the same transaction (batched); a code that is no longer
   * (redeemed, expired by another run, expiry moved) is skipped. Returns how many this call expired.
   */
  expireCodes(codes: readonly DueCode[], now: Date): Promise<number>;
  /** The batch's job, or undefined. */
  findBatch(batchId: string): Promise<BatchRef | undefined>;
  /** The batch's expiry change (strongly consistent), or undefined when none was made. */
  batchExpiry(batchId: string): Promise<BatchExpiry | undefined>;
  /**
   * Records `expiresAt` as the batch's expiry unless a change at or before it is already
   * recorded (a later one is replaced, and its move starts again from the first slot). Moves no
   * code. Returns the change in force and whether this call made it.
   */
  recordBatchExpiry(batch: BatchRef, expiresAt: Date, now: Date): Promise<{ expiry: BatchExpiry; changed: boolean }>;
  /** Batch expiry changes still in progress (from an index that may lag: each step is fenced). */
  pendingBatchExpiries(limit: number): Promise<BatchExpiry[]>;
  /**
   * One step of a change's move: the next codes from `nextSlot`, each still active with a later
   * (or no) expiry, moved to `expiresAt` — expired at once, each with its access_code.expired
   * event, when `expiresAt` has passed at `now` — in one transaction with the change's progress.
   * With no code left the change becomes `completed`. Returns the change as it now stands, or
   * undefined when `expiry` is no longer the change's state (another worker moved it on, or an
   * earlier expiry replaced it): nothing was written, read it again.
   */
  moveBatchCodes(expiry: BatchExpiry, now: Date): Promise<BatchExpiry | undefined>;
}

// Webhooks.

/** What a delivery becomes once an attempt is recorded. */
export type DeliveryStateAfterAttempt =
  /** `checkAt`: when the sweep looks at it if no queue message brings it first (`sweepCheckAt`). */
  | { status: 'pending'; nextAttemptAt: string; checkAt: string }
  | { status: 'succeeded' }
  | { status: 'failed'; reason: string };

/** What claiming a delivery's next attempt found. */
export type ClaimResult =
  /** The attempt is this caller's until the lease ends: `claimId` records it. */
  | { claimed: true; delivery: WebhookDelivery; claimId: string }
  /** Not due before `dueAt`. */
  | { claimed: false; reason: 'not-due'; dueAt: string }
  /**
   * `not-found`: no such delivery; `finished`: succeeded or failed; `claimed`: another run holds
   * the attempt; `stale`: the attempt asked for was already made.
   */
  | { claimed: false; reason: 'not-found' | 'finished' | 'claimed' | 'stale' };

/** A pending delivery the sweep found past the time it should have been looked at. */
export interface DueDelivery {
  deliveryId: string;
  endpointId: string;
  /** The attempt it is due for. */
  attempt: number;
}

/** The delivery side of webhook storage: one delivery, its endpoint, their outcomes. */
export interface WebhookDeliveryStore {
  /**
   * Claims the next attempt of a delivery at `at`, in one conditional write that holds only if
   * it is pending, due, not claimed by a live lease and (when `attempt` is given) still waiting
   * for that attempt. A second claimant of the same attempt gets `claimed` or `stale`, so an
   * attempt is sent once however many messages (queue duplicates, the sweep) ask for it.
   */
  claimAttempt(deliveryId: string, at: Date, attempt?: number): Promise<ClaimResult>;
  /** One endpoint, strongly consistent (a 410 recorded a moment ago is seen), or undefined. */
  getEndpoint(endpointId: string): Promise<WebhookEndpoint | undefined>;
  /**
   * Appends attempt `attempt.attempt` and moves the delivery to `then`, in one write that holds
   * only while `claimId` still holds the claim. Returns false when it does not.
   */
  recordAttempt(deliveryId: string, claimId: string, attempt: WebhookAttempt, then: DeliveryStateAfterAttempt): Promise<boolean>;
  /** Fails a claimed delivery without an attempt (its endpoint is disabled or gone). */
  markFailed(deliveryId: string, claimId: string, reason: string): Promise<void>;
  /** The endpoint succeeded at `at`: `lastSuccessAt` = at, `failingSince` cleared. */
  recordEndpointSuccess(endpointId: string, at: Date): Promise<void>;
  /** The endpoint failed at `at`: sets `failingSince` unless already set; returns its value. */
  recordEndpointFailure(endpointId: string, at: Date): Promise<string>;
  /** Disables the endpoint with its reason and time; no-op when already disabled. */
  disableEndpoint(endpointId: string, reason: EndpointDisabledReason, at: Date): Promise<void>;
  /** Pending deliveries whose sweep time (`checkAt`, or a lapsed claim) is at or before `at`, at most `limit`. */
  dueDeliveries(at: Date, limit: number): Promise<DueDelivery[]>;
}

/** Puts a delivery's attempt on the delivery queue, to be made after `delaySeconds`. */
export interface WebhookRetryScheduler {
  /**
   * At most `QUEUE_DELAY_CAP_SECONDS`: longer waits are the sweep's. `target` names the attempt
   * (a message for an attempt already made is dropped) and the endpoint (the fair-queue group).
   */
  scheduleRetry(deliveryId: string, delaySeconds: number, target?: { attempt?: number; endpointId?: string }): Promise<void>;
}

/** The SSRF guard: whether a URL may be called and at which address. */
export interface WebhookUrlGuard {
  check(url: string): Promise<UrlCheck>;
}

/** One signed delivery attempt as it goes on the wire. */
export interface WebhookMessage {
  /** `webhook-id`: the event id, the same on every attempt. */
  id: string;
  /** The exact bytes that are signed and sent. */
  body: string;
  /** The `whsec_` secrets that sign it, newest first (several during a rotation overlap). */
  secrets: ReadonlyArray<string>;
}

/** POSTs one attempt to a checked target; never throws, every failure is in the result. */
export interface WebhookSender {
  send(target: CheckedTarget, message: WebhookMessage): Promise<AttemptResult>;
}

/** Where a listing stopped: the table key it resumes after (sealed into a cursor by the use case). */
export type WebhookListPosition = Record<string, string>;

/** A page of a listing and where the next one starts (null on the last page). */
export interface WebhookPage<T> {
  items: T[];
  next: WebhookListPosition | null;
}

/** A delivery with its recorded attempts, oldest first (the last `MAX_STORED_ATTEMPTS` of them). */
export interface DeliveryWithAttempts {
  delivery: WebhookDelivery;
  attempts: WebhookAttempt[];
}

/** What may change on an endpoint (PATCH); absent fields stay as they are. */
export interface EndpointChanges {
  url?: string;
  events?: EventSubscription[];
  /** true re-enables (clearing the disabled state and the failing streak); false disables by hand. */
  enabled?: boolean;
  /** null clears it. */
  description?: string | null;
}


/** The management side of webhook storage: endpoints and their delivery log. */
export interface WebhookEndpointStore {
  /** Stores a new endpoint (its id is fresh). */
  createEndpoint(endpoint: WebhookEndpoint): Promise<void>;
  /** One endpoint (strongly consistent), or undefined. */
  getEndpoint(endpointId: string): Promise<WebhookEndpoint | undefined>;
  /** A project's endpoints, oldest first. A position of another listing throws `InvalidWebhookCursorError`. */
  listEndpoints(projectId: string, page: { limit: number; after?: WebhookListPosition }): Promise<WebhookPage<WebhookEndpoint>>;
  /** Every endpoint of a project (for dispatch: a project has few). */
  projectEndpoints(projectId: string): Promise<WebhookEndpoint[]>;
  /** Applies `changes` at `at`; undefined when the endpoint does not exist. */
  updateEndpoint(endpointId: string, changes: EndpointChanges, at: Date): Promise<WebhookEndpoint | undefined>;
  /** Deletes the endpoint; its deliveries are left to expire (they are no longer attempted). */
  deleteEndpoint(endpointId: string): Promise<void>;
  /**
   * Makes `secret` the current one at `at` (`rotateSecrets`: the ones it replaces keep signing
   * for the overlap), safe against a concurrent rotation; undefined when the endpoint is gone.
   */
  rotateSecret(endpointId: string, secret: string, at: Date): Promise<WebhookEndpoint | undefined>;
  /**
   * Records a new pending delivery, due at its `nextAttemptAt`, unless one with its id (event +
   * endpoint) exists; true when this call wrote it.
   */
  createDeliveryIfAbsent(delivery: WebhookDelivery): Promise<boolean>;
  /** One delivery with its attempts, or undefined. */
  getDeliveryWithAttempts(deliveryId: string): Promise<DeliveryWithAttempts | undefined>;
  /** An endpoint's deliveries, newest first, optionally of one status. */
  listDeliveries(
    endpointId: string,
    page: { limit: number; after?: WebhookListPosition; status?: DeliveryStatus },
  ): Promise<WebhookPage<DeliveryWithAttempts>>;
  /** Puts a failed delivery back to pending, due at `at`; false when it was not failed. */
  reopenDelivery(deliveryId: string, at: Date): Promise<boolean>;
}

/** A position that is not one of this listing's (another endpoint's or project's, or not a key at all). */
export class InvalidWebhookCursorError extends Error {}

/** The stores of the service table. */
export interface TableStores {
  accounts: AccountStore;
  jobs: JobStore;
  codes: CodeStore;
  chats: ChatLeases;
  tableProbe: TableProbe;
  /** Redemptions and subscriptions. */
  redemptions: RedemptionStore;
  /** The account reads of redemption, with projects cached too (`ACCOUNT_READ_TTLS`). */
  redemptionAccounts: AccountReader;
  /** Billing records of billed redemptions (the billing ledger). */
  billing: BillingStore;
  /** The expiry index and the expiry moves (expiry sweep, set-batch-expiry). */
  expiry: ExpiryStore;
}
