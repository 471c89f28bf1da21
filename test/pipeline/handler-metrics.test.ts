import type { Context, SQSEvent } from 'aws-lambda';
import { deliverMessage, generateChunkMessage } from '../../functions/contracts/queue-messages';
import { DeliveryThrottledError } from '../../functions/domain/errors';
import type { Job } from '../../functions/domain/jobs';
import type { DeliveryDeps } from '../../functions/use-cases/generation/deliver-job';
import type { GenerateDeps } from '../../functions/use-cases/generation/generate-chunk';
import type { ExpirySweepDeps } from '../../functions/use-cases/expiry-sweep';
import type { ServiceDeps, ToolOperation } from '../../functions/operations/operation';

/**
 * Business metrics are emitted by the handlers, from what the use case or the operation returned,
 * and a use case that throws part-way still has what it did counted. Read from the EMF lines
 * Powertools writes to stdout, as CloudWatch would.
 */
// Metrics are off in the test environment; these handlers' modules are loaded with them on.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
const { makeHandler: generatorHandler } = await import('../../functions/handlers/queue/generator');
const { makeHandler: delivererHandler } = await import('../../functions/handlers/queue/deliverer');
const { makeHandler: expirySweeperHandler } = await import('../../functions/handlers/schedule/expiry-sweeper');
const { toolHandler } = await import('../../functions/handlers/http/operation-handler');
const { Counted } = await import('../../functions/operations/operation');
const { hashApiToken } = await import('../../functions/domain/api-tokens');
const v = await import('valibot');

/** The metric values of the EMF documents `run` wrote to stdout, by metric name, with their units. */
const emitted = async (run: () => Promise<unknown>): Promise<{ result: unknown; metrics: Record<string, { unit: string; values: number[] }> }> => {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
  let result: unknown;
  try {
    result = await run().catch((error: unknown) => error);
  } finally {
    process.stdout.write = write;
  }
  const metrics: Record<string, { unit: string; values: number[] }> = {};
  for (const line of lines.flatMap((chunk) => chunk.split('\n')).filter((text) => text.includes('"_aws"'))) {
    const document = JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string; Unit: string }> }> } };
    for (const { Name, Unit } of document._aws.CloudWatchMetrics.flatMap((directive) => directive.Metrics)) {
      const value = document[Name] as number | number[];
      const entry = (metrics[Name] ??= { unit: Unit, values: [] });
      entry.values.push(...(Array.isArray(value) ? value : [value]));
    }
  }
  return { result, metrics };
};

const context = (): Context =>
  ({ functionName: 'test', awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:local:0:function:test', memoryLimitInMB: '128', getRemainingTimeInMillis: () => 60_000 }) as unknown as Context;

const sqsEvent = (body: object): SQSEvent =>
  ({ Records: [{ messageId: 'm-1', body: JSON.stringify(body), attributes: { ApproximateReceiveCount: '1' }, eventSource: 'aws:sqs' }] }) as unknown as SQSEvent;

const job = (fields: Partial<Job>): Job =>
  ({
    id: 'job_1',
    batchId: 'btc_1',
    projectId: 'prj_1',
    planId: 'pln_1',
    planName: 'Gold',
    quantity: 3,
    exportType: 'messages',
    telegramChatId: '42',
    status: 'processing',
    deliveredCount: 0,
    generatedAt: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    expiresAt: null,
    ...fields,
  }) as Job;

const clock = { now: () => new Date('2026-01-01T00:01:00.000Z') };

describe('business metrics, emitted by the handlers', () => {
  it('counts the codes a chunk stored although a later step of it failed (its message goes back to the queue)', async () => {
    const deps = {
      jobs: { getJob: async () => job({}), markProcessing: async () => undefined, countStored: async () => 3, markGenerated: async () => undefined },
      codes: { storeCodes: async () => 3 },
      deliveries: { send: async () => Promise.reject(new Error('delivery queue unreachable')) },
      clock,
    } as unknown as GenerateDeps;
    const { result, metrics } = await emitted(() => generatorHandler(deps)(sqsEvent(generateChunkMessage('job_1', 0)), context()));
    // The batch's one record failed: the whole batch goes back to the queue.
    expect(result).toMatchObject({ name: 'FullBatchFailureError' });
    expect(metrics).toEqual({ codesGenerated: { unit: 'Count', values: [3] } });
  });

  it('counts the messages a delivery sent before Telegram failed, and the 429 it waited out', async () => {
    let sends = 0;
    const deps = {
      jobs: {
        acquireDeliveryLease: async () => job({ generatedAt: '2026-01-01T00:00:30.000Z' }),
        recordDelivered: async () => true,
        releaseLease: async () => undefined,
      },
      chats: { acquire: async () => true },
      codes: { jobCodes: async () => [0, 1, 2].map((slot) => ({ slot, code: `CODE${slot}CODE${slot}CODE` })) },
      telegram: {
        sendMessage: async () => {
          sends++;
          if (sends === 2) throw new DeliveryThrottledError(1);
          if (sends === 4) throw new Error('Bot API unreachable');
        },
      },
      deliveries: { send: async () => undefined },
      clock,
      messageIntervalMs: 0,
      sleep: async () => undefined,
    } as unknown as DeliveryDeps;
    const { result, metrics } = await emitted(() => delivererHandler(deps)(sqsEvent(deliverMessage('job_1')), context()));
    // The batch's one record failed: the whole batch goes back to the queue.
    expect(result).toMatchObject({ name: 'FullBatchFailureError' });
    expect(metrics).toEqual({ messagesDelivered: { unit: 'Count', values: [2] }, telegram429: { unit: 'Count', values: [1] } });
  });

  it('reports an expiry run that failed: a backlog left, and how long it took', async () => {
    const deps = {
      expiry: { pendingBatchExpiries: async () => [], dueCodes: async () => Promise.reject(new Error('index unreadable')) },
      clock,
    } as unknown as ExpirySweepDeps;
    const { result, metrics } = await emitted(() => expirySweeperHandler(deps)({}, context()));
    expect(result).toEqual(new Error('index unreadable'));
    expect(metrics).toEqual({ expiryBacklog: { unit: 'Count', values: [1] }, sweepDuration: { unit: 'Milliseconds', values: [expect.any(Number)] } });
  });

  it("emits what a tool's run counted, and answers its data alone", async () => {
    const tool: ToolOperation = {
      kind: 'tool',
      name: 'count_me',
      description: 'A tool that counts.',
      abilities: ['project-access-code:redeem'],
      input: v.strictObject({}),
      output: v.object({ ok: v.boolean() }),
      annotations: { readOnlyHint: false, idempotentHint: true, destructiveHint: false, openWorldHint: false },
      http: { method: 'POST', path: '/count', successStatus: 200, pathParams: [], queryParams: [], headers: {} },
      needs: { table: 'read' },
      run: async () => new Counted({ ok: true }, { redemptions: 1, overageRedemptions: 0 }),
    };
    const accounts = {
      findTokenByHash: async (hash: string) =>
        hash === hashApiToken('secret-token') ? { id: 'tok_1', teamId: 'tea_1', abilities: ['project-access-code:redeem'] } : undefined,
    };
    const event = { headers: { authorization: 'Bearer secret-token', 'content-type': 'application/json' }, body: '{}', isBase64Encoded: false, requestContext: { http: { method: 'POST' } } };
    const { result, metrics } = await emitted(() => toolHandler(tool, { clock, accounts } as unknown as ServiceDeps)(event as never, context()));
    expect(result).toMatchObject({ statusCode: 200 });
    expect(JSON.parse((result as { body: string }).body)).toEqual({ data: { ok: true } });
    expect(metrics).toEqual({ redemptions: { unit: 'Count', values: [1] } });
  });
});
