import { createServer, type Server, type Socket } from 'node:net';
import { DynamoTableProbe } from '../../functions/adapters/dynamodb/table-probe';
import { makeDocumentClient } from '../../functions/adapters/dynamodb/client';
import { localClientConfig } from '../../local/dynamodb-local';
import { startTestApi, type TestApi } from '../support/api';
import { createTestTable, dynamoEndpoint, type TestTable } from '../support/dynamodb';

let table: TestTable;
const apis: TestApi[] = [];
beforeAll(async () => {
  table = await createTestTable();
  await table.accounts.findProject('prj_warm_up'); // the first request of a worker pays its cold start
});
afterAll(async () => {
  for (const api of apis) await api.close();
  await table.drop();
});
const apiWith = async (probe: DynamoTableProbe) => {
  const api = await startTestApi(table, undefined, { tableProbe: probe });
  apis.push(api);
  return api;
};

describe('GET /health', () => {
  test('answers 200 when the table can be read', async () => {
    const api = await apiWith(new DynamoTableProbe(table.db, table.tableName));
    const answer = await api.call('GET', '/health');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: { status: 'ok' } });
  });

  test('answers 503 in the error envelope when the table does not exist', async () => {
    const api = await apiWith(new DynamoTableProbe(table.db, 'no-such-table'));
    const answer = await api.call('GET', '/health');
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ error: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String), details: [] } });
    expect(answer.text).not.toContain('no-such-table');
  });

  test('answers 503 when nothing listens where DynamoDB should be', async () => {
    const port = await new Promise<number>((done) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => done(port));
      });
    });
    const db = makeDocumentClient({ ...localClientConfig(`http://127.0.0.1:${port}`), maxAttempts: 1 });
    try {
      const answer = await (await apiWith(new DynamoTableProbe(db, table.tableName))).call('GET', '/health');
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      db.destroy();
    }
  });

  test('answers 503 when DynamoDB accepts the connection and never answers (its own timeout, not the caller’s)', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    const db = makeDocumentClient({ ...localClientConfig(`http://127.0.0.1:${(silent.address() as { port: number }).port}`), maxAttempts: 1 });
    try {
      const answer = await (await apiWith(new DynamoTableProbe(db, table.tableName))).call('GET', '/health');
      expect(answer.status).toBe(503);
      expect(sockets.length).toBeGreaterThan(0);
    } finally {
      db.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((done) => silent.close(() => done()));
    }
  });

  test('the real endpoint of this run answers 200 (the probe is not simply failing)', async () => {
    const db = makeDocumentClient(localClientConfig(dynamoEndpoint()));
    try {
      expect((await (await apiWith(new DynamoTableProbe(db, table.tableName))).call('GET', '/health')).status).toBe(200);
    } finally {
      db.destroy();
    }
  });
});
