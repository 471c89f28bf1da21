import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { localClientConfig } from '../../local/dynamodb-local';

/**
 * DynamoDB Local answers 500 under lock contention, many at once. The local client must retry
 * each of them up to its attempt limit however many other calls are retrying at the same time
 * (the SDK's standard strategy stops retrying once 100 retries have drained its quota).
 */
describe('the DynamoDB Local client', () => {
  let server: Server;
  let endpoint: string;
  const attempts = new Map<string, number>();
  const failuresPerCall = 3;

  beforeAll(async () => {
    server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const call = String(request.headers['amz-sdk-invocation-id']);
        const seen = (attempts.get(call) ?? 0) + 1;
        attempts.set(call, seen);
        response.setHeader('content-type', 'application/x-amz-json-1.0');
        if (seen <= failuresPerCall) {
          response.statusCode = 500;
          response.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'timed out waiting for a lock' }));
          return;
        }
        response.end(JSON.stringify({ TableNames: [] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('retries every one of 80 concurrent calls through three 500s each (240 retries on one client)', async () => {
    const client = new DynamoDBClient(localClientConfig(endpoint));
    try {
      const results = await Promise.allSettled(Array.from({ length: 80 }, () => client.send(new ListTablesCommand({}))));
      const failed = results.filter((result) => result.status === 'rejected');
      expect(failed).toHaveLength(0);
      expect([...attempts.values()].filter((seen) => seen === failuresPerCall + 1)).toHaveLength(80);
    } finally {
      client.destroy();
    }
  });

  test('a client error is not retried', async () => {
    const failing = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        attempts.set('client-error', (attempts.get('client-error') ?? 0) + 1);
        response.statusCode = 400;
        response.setHeader('content-type', 'application/x-amz-json-1.0');
        response.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ValidationException', message: 'bad' }));
      });
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const other = new DynamoDBClient(localClientConfig(`http://127.0.0.1:${(failing.address() as AddressInfo).port}`));
    try {
      await expect(other.send(new ListTablesCommand({}))).rejects.toThrow('bad');
      expect(attempts.get('client-error')).toBe(1);
    } finally {
      other.destroy();
      await new Promise<void>((resolve) => failing.close(() => resolve()));
    }
  });
});
