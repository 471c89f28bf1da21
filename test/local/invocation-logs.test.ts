import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/**
 * In a child process, as `npm start` runs (Jest's module sandbox gives Powertools and the
 * invocation store each their own view of the process, which is not how the stack runs).
 */
const runFixture = () =>
  new Promise<string>((done, fail) => {
    const child = spawn(resolve(ROOT, 'node_modules/.bin/tsx'), [resolve(ROOT, 'test/local/concurrent-logs.fixture.ts')], {
      cwd: ROOT,
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'INFO' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', fail);
    child.once('exit', (code) => (code === 0 ? done(output) : fail(new Error(`fixture exited ${code}:\n${output}`))));
  });

describe('the local stack’s invocations, run concurrently in one process', () => {
  test('two concurrent requests each log under their own function name and request id', async () => {
    const parsed = (await runFixture())
      .split('\n')
      .flatMap((text) => {
        try {
          return [JSON.parse(text) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
    expect(parsed.find((line) => 'statuses' in line)?.statuses).toEqual([200, 200]);
    const lines = parsed.filter((line) => line.message === 'step');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line.function_name).toBe(line.who);
    const requestIds = (who: string) => new Set(lines.filter((line) => line.who === who).map((line) => line.function_request_id));
    expect(requestIds('First').size).toBe(1);
    expect(requestIds('Second').size).toBe(1);
    expect([...requestIds('First')][0]).not.toBe([...requestIds('Second')][0]);
  });
});
