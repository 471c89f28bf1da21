/**
 * The expiry figure of `npm run bench`: one sweep of 1,000 expired codes on a table that also
 * holds 1,000 live (expiring later) codes, then on one that holds 100,000, on the same DynamoDB
 * Local. The sweep reads only the due part of the expiry index, so the ratio should stay near 1.
 */
import { randomUUID } from 'node:crypto';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { codeItem, DynamoCodeStore } from '../functions/adapters/dynamodb/code-store';
import { DynamoExpiryStore } from '../functions/adapters/dynamodb/expiry-store';
import { randomCode } from '../functions/domain/access-codes';
import { newId } from '../functions/domain/ids';
import { sweepExpiredCodes } from '../functions/use-cases/expiry-sweep';
import { ensureTable } from '../local/dynamodb-local';

/** The target: a sweep among 100× the live codes takes at most this many times as long. */
export const EXPIRY_TARGET_RATIO = 1.3;
const EXPIRED = 1_000;
const IN_FLIGHT = 8;

const job = (expiresAt: string) => ({
  id: newId('job'),
  batchId: newId('batch'),
  planId: 'pln_bench',
  projectId: 'prj_bench',
  teamId: 'tea_bench',
  expiresAt,
});

/** Writes items 25 per BatchWriteItem, IN_FLIGHT calls at once, unprocessed items retried. */
const insert = async (db: DynamoDBDocumentClient, tableName: string, items: Record<string, unknown>[]) => {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      let requests = items.slice(next, (next += 25)).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 20 * 2 ** attempt)));
        const result = await db.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
        requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
};

/** Milliseconds of one sweep of EXPIRED due codes among `live` codes expiring next year. */
const sweepAmong = async (control: DynamoDBClient, db: DynamoDBDocumentClient, live: number): Promise<number> => {
  const tableName = `bench-expiry-${randomUUID()}`;
  await ensureTable(control, tableName);
  try {
    const now = new Date();
    const due = job(new Date(now.getTime() - 60_000).toISOString());
    const later = job(new Date(now.getTime() + 365 * 86_400_000).toISOString());
    await insert(db, tableName, [
      ...Array.from({ length: EXPIRED }, (_, slot) => codeItem(due, slot, randomCode(), now)),
      ...Array.from({ length: live }, (_, slot) => codeItem(later, slot, randomCode(), now)),
    ]);
    const expiry = new DynamoExpiryStore(db, tableName, new DynamoCodeStore(db, tableName));
    const result = await sweepExpiredCodes({ expiry, clock: { now: () => now } });
    if (result.expired !== EXPIRED) throw new Error(`the sweep expired ${result.expired} codes, not ${EXPIRED}`);
    return result.durationMs;
  } finally {
    await control.send(new DeleteTableCommand({ TableName: tableName }));
  }
};

/** The expiry rows of the bench table: [measure, runs, median]. */
export const expiryBench = async (control: DynamoDBClient, db: DynamoDBDocumentClient, largeLive = 100_000): Promise<Array<[string, string, string]>> => {
  await sweepAmong(control, db, 100); // warm-up
  const small = await sweepAmong(control, db, 1_000);
  const large = await sweepAmong(control, db, largeLive);
  const ratio = large / small;
  console.log(`expiry: ${small.toFixed(0)} ms among 1,000 live, ${large.toFixed(0)} ms among ${largeLive.toLocaleString('en')} live`);
  return [
    ['(c) sweep of 1,000 expired among 1,000 live', small.toFixed(0), `${small.toFixed(0)} ms`],
    [`(d) sweep of 1,000 expired among ${largeLive.toLocaleString('en')} live`, large.toFixed(0), `${large.toFixed(0)} ms`],
    ['(d)/(c)', '', `${ratio.toFixed(2)} (target ≤ ${EXPIRY_TARGET_RATIO})`],
  ];
};
