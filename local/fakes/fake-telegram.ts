import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import busboy from 'busboy';

/** An `{ok:false}` answer in Telegram's wire format; the HTTP status is `error_code`. */
export interface TelegramErrorReply {
  error_code: number;
  description: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

/** The errors Telegram really sends, ready for `failNext` and friends. */
export const telegramErrors = {
  tooManyRequests: (retryAfter = 1): TelegramErrorReply => ({
    error_code: 429,
    description: `Too Many Requests: retry after ${retryAfter}`,
    parameters: { retry_after: retryAfter },
  }),
  botBlocked: (): TelegramErrorReply => ({ error_code: 403, description: 'Forbidden: bot was blocked by the user' }),
  userDeactivated: (): TelegramErrorReply => ({ error_code: 403, description: 'Forbidden: user is deactivated' }),
  chatNotFound: (): TelegramErrorReply => ({ error_code: 400, description: 'Bad Request: chat not found' }),
  unauthorized: (): TelegramErrorReply => ({ error_code: 401, description: 'Unauthorized' }),
  internal: (): TelegramErrorReply => ({ error_code: 500, description: 'Internal Server Error' }),
  badGateway: (): TelegramErrorReply => ({ error_code: 502, description: 'Bad Gateway' }),
};

/** A file part of a multipart upload, decoded as UTF-8. */
export interface UploadedFile {
  field: string;
  filename: string;
  contentType: string;
  content: string;
}

/** One request the fake received, whatever it answered. */
export interface TelegramCall {
  method: string;
  token: string;
  /** Body fields (JSON values as sent; urlencoded and multipart fields as strings) merged over the query. */
  params: Record<string, unknown>;
  files: UploadedFile[];
  /** The HTTP status answered: 200 when Telegram would have delivered, else the error_code. */
  status: number;
  /** When it arrived (epoch ms). */
  at: number;
  /** True when it was refused for going over the chat's pace (`chatPace`). */
  chatLimited?: boolean;
  /** True when it was refused for going over a group's limit (`groupLimit`). */
  groupLimited?: boolean;
}

/** A document as the chat would have received it. */
export interface DeliveredDocument {
  filename: string;
  content: string;
  caption: string | undefined;
}

/** Options of `startFakeTelegram`. */
export interface FakeTelegramOptions {
  /** The only token accepted (others get 401 Unauthorized). Default: any token. */
  token?: string;
  /** What getMe answers as the bot's username. Default `memberpass_test_bot`. */
  botUsername?: string;
  /** When given, only these chats exist; others get 400 "chat not found". Default: every chat exists. */
  knownChats?: ReadonlyArray<string | number>;
  /** Delay before each answer, e.g. to make a benchmark feel the network. Default 0. */
  latencyMs?: number;
  /**
   * Telegram's per-chat limit: about one message a second with short bursts, as a token bucket
   * per chat of `burst` sends refilled one per `intervalMs` (scale it down in tests). A send
   * beyond it gets 429 and is marked `chatLimited`. Default: no per-chat limit.
   */
  chatPace?: { intervalMs: number; burst: number };
  /**
   * Telegram's limit for a group (a negative chat id): about 20 messages a minute, as at most
   * `max` sends in any `windowMs` (scale the window down in tests). A send beyond it gets 429
   * with the seconds until the oldest send leaves the window, and is marked `groupLimited`.
   * `false` turns it off. Default `{ windowMs: 60_000, max: 20 }`, Telegram's own.
   */
  groupLimit?: { windowMs: number; max: number } | false;
}

/** Telegram's limit for one group: about 20 messages a minute. */
export const TELEGRAM_GROUP_LIMIT = { windowMs: 60_000, max: 20 } as const;

const MESSAGE_LIMIT = 4096;
const CAPTION_LIMIT = 1024;
const HTML_TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'tg-spoiler', 'a', 'code', 'pre', 'blockquote', 'tg-emoji']);

/**
 * A fake Telegram Bot API on 127.0.0.1: real HTTP, routes `/bot<token>/<method>`, JSON,
 * urlencoded and multipart bodies, and Telegram's `{ok, result}` / `{ok:false, error_code,
 * description, parameters}` answers. Knows getMe, sendMessage and sendDocument; other methods
 * get 404 like on the real server. Every call is recorded; failures are scriptable.
 */
export class FakeTelegram {
  /** Pass this as the client's `apiRoot`. */
  readonly apiRoot: string;
  /** Every request so far, in arrival order. */
  readonly calls: TelegramCall[] = [];

  private readonly scripted: Array<{ method: string; remaining: number; error: TelegramErrorReply }> = [];
  private readonly chatErrors = new Map<string, TelegramErrorReply>();
  private readonly knownChats: Set<string> | undefined;
  private throttle: { every: number; retryAfter: number; seen: number } | undefined;
  /** Per chat: tokens left and when they were counted (`chatPace`). */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** Per group: when its accepted sends arrived, within the last `groupLimit.windowMs`. */
  private readonly groupSends = new Map<string, number[]>();
  private nextMessageId = 1;
  /** Aborted by `close()`, so an answer still waiting out `latencyMs` does not keep the process alive. */
  private readonly closing = new AbortController();

  private constructor(
    private readonly server: Server,
    private readonly options: FakeTelegramOptions,
  ) {
    this.apiRoot = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.knownChats = options.knownChats && new Set(options.knownChats.map(String));
  }

  /** Starts a fake on a free port. */
  static async start(options: FakeTelegramOptions = {}): Promise<FakeTelegram> {
    const server = createServer();
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
    const fake = new FakeTelegram(server, options);
    server.on('request', (request, response) => void fake.handle(request, response));
    return fake;
  }

  /** The next `times` calls of `method` (`'*'` for any) are answered with `error`. */
  failNext(method: string, times: number, error: TelegramErrorReply): void {
    this.scripted.push({ method, remaining: times, error });
  }

  /** From now on, sends to this chat get 403 "Forbidden: bot was blocked by the user". */
  blockChat(chatId: string | number): void {
    this.failChat(chatId, telegramErrors.botBlocked());
  }

  /** From now on, sends to this chat get `error` (e.g. `telegramErrors.userDeactivated()`). */
  failChat(chatId: string | number, error: TelegramErrorReply): void {
    this.chatErrors.set(String(chatId), error);
  }

  /** Every `n`-th send (sendMessage / sendDocument) gets 429 with `retryAfter`; `0` turns it off. */
  throttleEvery(n: number, retryAfter = 1): void {
    this.throttle = n > 0 ? { every: n, retryAfter, seen: 0 } : undefined;
  }

  /** Calls of one method, in order. */
  callsTo(method: string): TelegramCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** Texts delivered to a chat, in order. */
  messagesTo(chatId: string | number): string[] {
    return this.delivered('sendMessage', chatId).map((call) => String(call.params.text));
  }

  /** Documents delivered to a chat, in order. */
  documentsTo(chatId: string | number): DeliveredDocument[] {
    return this.delivered('sendDocument', chatId).map((call) => {
      const file = call.files.find((f) => f.field === 'document');
      const caption = call.params.caption;
      return { filename: file?.filename ?? '', content: file?.content ?? '', caption: caption === undefined ? undefined : String(caption) };
    });
  }

  /** Forgets calls and every scripted failure, block and throttle. */
  reset(): void {
    this.calls.length = 0;
    this.scripted.length = 0;
    this.chatErrors.clear();
    this.buckets.clear();
    this.groupSends.clear();
    this.throttle = undefined;
  }

  /** Stops listening and drops kept-alive connections. */
  async close(): Promise<void> {
    this.closing.abort();
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
  }

  private delivered(method: string, chatId: string | number): TelegramCall[] {
    return this.calls.filter((c) => c.method === method && c.status === 200 && String(c.params.chat_id) === String(chatId));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.apiRoot);
    const route = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!route) return reply(response, { error_code: 404, description: 'Not Found' });
    let body: { params: Record<string, unknown>; files: UploadedFile[] };
    try {
      body = await readBody(request);
    } catch {
      return reply(response, { error_code: 400, description: 'Bad Request: invalid request body' });
    }
    const call: TelegramCall = {
      method: route[2]!,
      token: decodeURIComponent(route[1]!),
      params: { ...Object.fromEntries(url.searchParams), ...body.params },
      files: body.files,
      status: 200,
      at: Date.now(),
    };
    this.calls.push(call);
    const answer = this.answer(call);
    if ('error_code' in answer) call.status = answer.error_code;
    if (this.options.latencyMs) {
      try {
        await sleep(this.options.latencyMs, undefined, { signal: this.closing.signal });
      } catch {
        return; // closed meanwhile: the connection is gone
      }
    }
    reply(response, answer);
  }

  /** Checks in the order Telegram does: token, method, scripted trouble, chat, then the request itself. */
  private answer(call: TelegramCall): TelegramErrorReply | { result: unknown } {
    if (this.options.token !== undefined && call.token !== this.options.token) return telegramErrors.unauthorized();
    if (!['getMe', 'sendMessage', 'sendDocument'].includes(call.method)) return { error_code: 404, description: 'Not Found' };
    const trouble = this.takeScripted(call.method) ?? this.chatTrouble(call);
    if (trouble) return trouble;
    if (call.method === 'getMe') return { result: this.bot() };
    return this.send(call);
  }

  private takeScripted(method: string): TelegramErrorReply | undefined {
    const entry = this.scripted.find((s) => s.remaining > 0 && (s.method === method || s.method === '*'));
    if (!entry) return undefined;
    entry.remaining -= 1;
    return entry.error;
  }

  private chatTrouble(call: TelegramCall): TelegramErrorReply | undefined {
    if (call.method === 'getMe') return undefined;
    if (this.throttle && ++this.throttle.seen % this.throttle.every === 0) return telegramErrors.tooManyRequests(this.throttle.retryAfter);
    const chatId = call.params.chat_id;
    if (chatId === undefined || chatId === '') return { error_code: 400, description: 'Bad Request: chat_id is empty' };
    const chatError = this.chatErrors.get(String(chatId));
    if (chatError) return chatError;
    if (this.knownChats && !this.knownChats.has(String(chatId))) return telegramErrors.chatNotFound();
    const group = this.groupLimit(call, String(chatId));
    if (group) return group;
    const refused = this.chatPace(call, String(chatId));
    if (!refused && String(chatId).startsWith('-')) this.groupSends.get(String(chatId))?.push(call.at);
    return refused;
  }

  /** Answers 429 to a send that would make a group's sends in the window more than its limit. */
  private groupLimit(call: TelegramCall, chatId: string): TelegramErrorReply | undefined {
    const limit = this.options.groupLimit ?? TELEGRAM_GROUP_LIMIT;
    if (limit === false || !chatId.startsWith('-')) return undefined;
    const recent = (this.groupSends.get(chatId) ?? []).filter((at) => call.at - at < limit.windowMs);
    this.groupSends.set(chatId, recent);
    if (recent.length < limit.max) return undefined;
    call.groupLimited = true;
    return telegramErrors.tooManyRequests(Math.max(1, Math.ceil((recent[0]! + limit.windowMs - call.at) / 1000)));
  }

  /** Takes a token from the chat's bucket, or answers 429 as Telegram does for a chat sent to too fast. */
  private chatPace(call: TelegramCall, chatId: string): TelegramErrorReply | undefined {
    const pace = this.options.chatPace;
    if (!pace) return undefined;
    const bucket = this.buckets.get(chatId) ?? { tokens: pace.burst, at: call.at };
    bucket.tokens = Math.min(pace.burst, bucket.tokens + (call.at - bucket.at) / pace.intervalMs);
    bucket.at = call.at;
    this.buckets.set(chatId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    call.chatLimited = true;
    return telegramErrors.tooManyRequests(Math.max(1, Math.ceil(((1 - bucket.tokens) * pace.intervalMs) / 1000)));
  }

  private send(call: TelegramCall): TelegramErrorReply | { result: unknown } {
    const { params } = call;
    const base = { message_id: this.nextMessageId++, date: Math.floor(Date.now() / 1000), chat: chatOf(params.chat_id), from: this.bot() };
    if (call.method === 'sendMessage') {
      const text = typeof params.text === 'string' ? params.text : '';
      const problem = checkText(text, params.parse_mode, MESSAGE_LIMIT, 'message is too long') ?? (text.trim() === '' ? 'message text is empty' : undefined);
      return problem ? badRequest(problem) : { result: { ...base, text: stripTags(text, params.parse_mode) } };
    }
    const file = call.files.find((f) => f.field === 'document');
    if (!file && typeof params.document !== 'string') return badRequest('there is no document in the request');
    if (file && file.content.length === 0) return badRequest('file must be non-empty');
    const caption = typeof params.caption === 'string' ? params.caption : undefined;
    const problem = caption === undefined ? undefined : checkText(caption, params.parse_mode, CAPTION_LIMIT, 'message caption is too long');
    if (problem) return badRequest(problem);
    const document = { file_id: `doc-${base.message_id}`, file_unique_id: `u-${base.message_id}`, file_name: file?.filename, mime_type: file?.contentType, file_size: file ? Buffer.byteLength(file.content) : undefined };
    return { result: { ...base, document, ...(caption === undefined ? {} : { caption: stripTags(caption, params.parse_mode) }) } };
  }

  private bot() {
    return { id: 7000000001, is_bot: true, first_name: 'MemberPass', username: this.options.botUsername ?? 'memberpass_test_bot' };
  }
}

/** Starts a fake Telegram Bot API on 127.0.0.1 (shorthand for `FakeTelegram.start`). */
export const startFakeTelegram = (options?: FakeTelegramOptions): Promise<FakeTelegram> => FakeTelegram.start(options);

const reply = (response: ServerResponse, answer: TelegramErrorReply | { result: unknown }): void => {
  const status = 'error_code' in answer ? answer.error_code : 200;
  const body = 'error_code' in answer ? { ok: false, ...answer } : { ok: true, result: answer.result };
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

const badRequest = (problem: string): TelegramErrorReply => ({ error_code: 400, description: `Bad Request: ${problem}` });

const chatOf = (chatId: unknown) => {
  const id = Number(chatId);
  return { id: Number.isFinite(id) ? id : String(chatId), type: id < 0 ? 'group' : 'private' };
};

/** Length limits count characters after entity parsing, as Telegram does; HTML must be well-formed. */
const checkText = (text: string, parseMode: unknown, limit: number, tooLong: string): string | undefined => {
  if (parseMode === 'HTML') {
    const htmlProblem = checkHtml(text);
    if (htmlProblem) return `can't parse entities: ${htmlProblem}`;
  }
  return stripTags(text, parseMode).length > limit ? tooLong : undefined;
};

/**
 * A small version of Telegram's HTML parse mode check: only its tags, properly nested, and
 * every `<`, `>` and `&` outside a tag or entity escaped. Catches the classic bug of putting
 * a raw `&` or `<` from user data into an HTML message.
 */
const checkHtml = (text: string): string | undefined => {
  const open: string[] = [];
  const token = /<(\/?)([a-zA-Z-]+)(?:\s[^<>]*)?>|&(?:#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);|[<>&]/g;
  for (const match of text.matchAll(token)) {
    const [whole, closing, tag] = match;
    const at = `at byte offset ${Buffer.byteLength(text.slice(0, match.index))}`;
    if (whole.startsWith('&') && whole.length > 1) continue;
    if (tag === undefined) return `Unsupported start tag or unescaped "${whole}" ${at}`;
    const name = tag.toLowerCase();
    if (!HTML_TAGS.has(name)) return `Unsupported start tag "${name}" ${at}`;
    if (!closing) open.push(name);
    else if (open.pop() !== name) return `Can't find end tag corresponding to start tag "${name}" ${at}`;
  }
  return open.length > 0 ? `Can't find end tag corresponding to start tag "${open.at(-1)}"` : undefined;
};

const stripTags = (text: string, parseMode: unknown): string =>
  parseMode !== 'HTML'
    ? text
    : text
        .replace(/<[^>]*>/g, '')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, '&');

/** Parses a JSON, urlencoded or multipart body (the three encodings Telegram accepts). */
const readBody = async (request: IncomingMessage): Promise<{ params: Record<string, unknown>; files: UploadedFile[] }> => {
  const type = request.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) return readMultipart(request);
  const text = (await readAll(request)).toString('utf8');
  if (text === '') return { params: {}, files: [] };
  if (type.startsWith('application/json')) return { params: JSON.parse(text) as Record<string, unknown>, files: [] };
  return { params: Object.fromEntries(new URLSearchParams(text)), files: [] };
};

const readAll = async (request: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

const readMultipart = (request: IncomingMessage): Promise<{ params: Record<string, unknown>; files: UploadedFile[] }> =>
  new Promise((done, fail) => {
    const params: Record<string, unknown> = {};
    const pending: Array<Promise<UploadedFile>> = [];
    const parser = busboy({ headers: request.headers, defParamCharset: 'utf8' });
    parser.on('field', (name, value) => (params[name] = value));
    parser.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      pending.push(
        new Promise((fileDone) =>
          stream.on('end', () => fileDone({ field, filename: info.filename ?? '', contentType: info.mimeType, content: Buffer.concat(chunks).toString('utf8') })),
        ),
      );
    });
    parser.on('close', () => void Promise.all(pending).then((files) => done({ params, files }), fail));
    parser.on('error', fail);
    request.pipe(parser);
  });
