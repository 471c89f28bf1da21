import { ConditionalCheckFailedException, InternalServerError, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { CONTENTION_ATTEMPTS, contentionRetry } from '../../functions/adapters/dynamodb/client';

/** A handler that throws the given errors in turn, then answers; counts its calls. */
const flaky = (errors: Error[]) => {
  let calls = 0;
  const next = async () => {
    const error = errors[calls++];
    if (error) throw error;
    return { output: { $metadata: {} }, response: {} };
  };
  return { next, calls: () => calls };
};
const meta = { $metadata: {}, message: 'x' };
const run = (commandName: string, errors: Error[]) => {
  const handler = flaky(errors);
  const wrapped = contentionRetry(handler.next as never, { commandName } as never);
  return { result: wrapped({ input: {} } as never).then(() => 'ok', (e: Error) => e.name), calls: handler.calls };
};

describe('the contention retry', () => {
  test('sends a write refused for a transaction conflict again, until it goes through', async () => {
    const { result, calls } = run('PutItemCommand', [new TransactionConflictException(meta), new TransactionConflictException(meta)]);
    expect(await result).toBe('ok');
    expect(calls()).toBe(3);
  });

  test('sends a read refused with a 500 again, but never a write (its outcome is unknown)', async () => {
    const read = run('GetItemCommand', [new InternalServerError(meta)]);
    const write = run('UpdateItemCommand', [new InternalServerError(meta)]);
    expect([await read.result, read.calls()]).toEqual(['ok', 2]);
    expect([await write.result, write.calls()]).toEqual(['InternalServerError', 1]);
  });

  test('passes a failed condition through at once, and gives up after its attempts', async () => {
    const condition = run('PutItemCommand', [new ConditionalCheckFailedException(meta)]);
    expect([await condition.result, condition.calls()]).toEqual(['ConditionalCheckFailedException', 1]);
    const stuck = run('PutItemCommand', Array.from({ length: CONTENTION_ATTEMPTS + 2 }, () => new TransactionConflictException(meta)));
    expect([await stuck.result, stuck.calls()]).toEqual(['TransactionConflictException', CONTENTION_ATTEMPTS]);
  });
});
