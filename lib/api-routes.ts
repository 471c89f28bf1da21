/** What a route's Lambda may do to the table. */
export type TableAccess = 'none' | 'read' | 'readWrite';

/** One HTTP route of the public API and the Lambda entry point that serves it. */
export interface ApiRoute {
  /** Stable id: names the Lambda in CDK and the handler in the local stack. */
  id: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** API Gateway route path, with `{name}` path parameters. */
  path: string;
  /** Entry file (relative to the repository root) exporting `handler`. */
  entry: string;
  tableAccess: TableAccess;
  /** The route queues pipeline work (send to the generation queue, QUEUE_URL). */
  queue?: boolean;
  /**
   * What the route needs of the Telegram bot: `username` (TELEGRAM_BOT_USERNAME, for deep
   * links), or `bot` (read access to the bot-token and webhook-token secrets:
   * TELEGRAM_BOT_TOKEN_SECRET, TELEGRAM_WEBHOOK_TOKEN_SECRET, optional TELEGRAM_API_ROOT).
   */
  telegram?: 'username' | 'bot';
}

/**
 * The one list of routes: the CDK stack makes a Lambda and an API Gateway route of each, and
 * the local stack routes the same paths to the same handler code.
 */
export const API_ROUTES: readonly ApiRoute[] = [
  { id: 'Health', method: 'GET', path: '/health', entry: 'functions/entrypoints/health.ts', tableAccess: 'read' },
  {
    id: 'PreviewAccessCodeCost',
    method: 'POST',
    path: '/v1/access-codes/preview',
    entry: 'functions/entrypoints/preview-access-code-cost.ts',
    tableAccess: 'read',
  },
  {
    id: 'BulkGenerateAccessCodes',
    method: 'POST',
    path: '/v1/access-codes/bulk-generate',
    entry: 'functions/entrypoints/bulk-generate-access-codes.ts',
    tableAccess: 'readWrite',
    queue: true,
  },
  { id: 'GetJobStatus', method: 'GET', path: '/v1/jobs/{job_id}', entry: 'functions/entrypoints/get-job-status.ts', tableAccess: 'read' },
  {
    id: 'ListAccessCodes',
    method: 'GET',
    path: '/v1/plans/{plan_id}/access-codes',
    entry: 'functions/entrypoints/list-access-codes.ts',
    tableAccess: 'read',
  },
  {
    id: 'CreateTelegramLink',
    method: 'POST',
    path: '/v1/telegram/link',
    entry: 'functions/entrypoints/create-telegram-link.ts',
    tableAccess: 'readWrite',
    telegram: 'username',
  },
  {
    id: 'TelegramWebhook',
    method: 'POST',
    path: '/telegram/webhook',
    entry: 'functions/entrypoints/telegram-webhook.ts',
    tableAccess: 'readWrite',
    telegram: 'bot',
  },
];
