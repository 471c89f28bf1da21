import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streamCheckpointFile } from '../../local/consumers';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'checkpoints-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

describe('a stream consumer\'s checkpoint file in the data dir', () => {
  test('is named after its consumer', () => {
    expect(streamCheckpointFile(dataDir, 'OutboxRelay')).toBe(join(dataDir, 'outbox-relay-stream-checkpoint.json'));
    expect(streamCheckpointFile(dataDir, 'BillingForwarder')).toBe(join(dataDir, 'billing-forwarder-stream-checkpoint.json'));
  });

  test('takes over a data dir\'s file of a legacy name, so a restart keeps its place in the stream', () => {
    writeFileSync(join(dataDir, 'stream-checkpoint.json'), '{"shard":"relay"}');
    writeFileSync(join(dataDir, 'billing-stream-checkpoint.json'), '{"shard":"billing"}');
    expect(readFileSync(streamCheckpointFile(dataDir, 'OutboxRelay'), 'utf8')).toBe('{"shard":"relay"}');
    expect(readFileSync(streamCheckpointFile(dataDir, 'BillingForwarder'), 'utf8')).toBe('{"shard":"billing"}');
    expect(existsSync(join(dataDir, 'stream-checkpoint.json'))).toBe(false);
  });

  test('keeps its own file where both exist: the legacy one is older', () => {
    writeFileSync(join(dataDir, 'stream-checkpoint.json'), '{"shard":"old"}');
    writeFileSync(join(dataDir, 'outbox-relay-stream-checkpoint.json'), '{"shard":"new"}');
    expect(readFileSync(streamCheckpointFile(dataDir, 'OutboxRelay'), 'utf8')).toBe('{"shard":"new"}');
  });
});
