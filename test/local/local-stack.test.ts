import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningStack } from '../../local/data-dir';
import type { DemoFile } from '../../local/local-stack';
import { isAlive, runScript, startScript, type RunningProcess } from '../support/processes';

const dataDir = mkdtempSync(join(tmpdir(), 'memberpass-local-'));
const env = { LOCAL_DATA_DIR: dataDir, PORT: '0', TABLE_NAME: 'memberpass-local' };
const READY = 'Ctrl-C stops everything.';
let running: RunningProcess | undefined;

afterAll(async () => {
  if (running && running.child.exitCode === null) {
    running.child.kill('SIGTERM');
    await running.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const readDemo = () => JSON.parse(readFileSync(join(dataDir, 'demo.json'), 'utf8')) as DemoFile;
const admin = async (...args: string[]) => {
  const result = await runScript('admin.ts', [...args, '--json'], env);
  if (result.code !== 0) throw new Error(`admin ${args.join(' ')} failed:\n${result.output}`);
  return JSON.parse(result.output.trim().split('\n').pop() ?? '{}');
};
const previewStatus = async (apiUrl: string, token: string, planId: string) => {
  const response = await fetch(`${apiUrl}/v1/access-codes/preview`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ plan_id: planId, quantity: 50 }),
  });
  return { status: response.status, body: (await response.json()) as any };
};

describe('npm start (bin/local.ts) on a data dir', () => {
  let created: { teamId: string; planId: string; token: string };
  let firstDemo: DemoFile;

  test('serves the API, seeds the demo and prints how to call it', async () => {
    running = startScript('local.ts', [], env);
    await running.waitFor(READY);
    firstDemo = readDemo();
    expect(running.output()).toContain(firstDemo.token);
    expect(running.output()).toContain(`curl -s ${firstDemo.api_url}/health`);
    expect((await fetch(`${firstDemo.api_url}/health`)).status).toBe(200);
    const answer = await previewStatus(firstDemo.api_url, firstDemo.token, firstDemo.plan_id);
    expect(answer.body.data.preview).toEqual({ free_remaining: 10, chargeable_quantity: 40, cost: '1.20' });
  });

  test('prints where the webhook secret is, never the secret', () => {
    const secretFile = join(dataDir, 'telegram-webhook-secret');
    const secret = readFileSync(secretFile, 'utf8').trim();
    expect(secret.length).toBeGreaterThan(20);
    expect(running!.output()).not.toContain(secret);
    expect(running!.output()).toContain(secretFile);
  });

  test('keeps the data dir and DynamoDB Local’s files to their owner', () => {
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(dataDir)).toBe(0o700);
    const dbDir = join(dataDir, 'dynamodb');
    expect(mode(dbDir)).toBe(0o700);
    const files = readdirSync(dbDir).map((name) => join(dbDir, name));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(mode(file) & 0o077).toBe(0);
    expect(mode(join(dataDir, 'telegram-webhook-secret')) & 0o077).toBe(0);
  });

  test('the admin CLI works against the running stack', async () => {
    const team = await admin('create-team', '--name', 'Second team');
    const project = await admin('create-project', '--team', team.team_id, '--name', 'P', '--free-allotment', '2', '--unit-price', '50', '--currency', 'EUR');
    const plan = await admin('create-plan', '--project', project.project_id, '--name', 'Gold');
    const token = await admin('create-token', '--team', team.team_id, '--abilities', 'project-access-code:create');
    created = { teamId: team.team_id, planId: plan.plan_id, token: token.token };
    const answer = await previewStatus(firstDemo.api_url, created.token, created.planId);
    expect(answer.body.data).toMatchObject({ currency: 'EUR', preview: { free_remaining: 2, chargeable_quantity: 48, cost: '24.00' } });
  });

  test('a second npm start on the same data dir fails clearly and harms nothing', async () => {
    const second = await runScript('local.ts', [], env);
    expect(second.code).not.toBe(0);
    expect(second.output).toMatch(/in use by another process \(pid \d+\)/);
    expect((await fetch(`${firstDemo.api_url}/health`)).status).toBe(200);
  });

  test('SIGTERM stops everything, DynamoDB Local included, and frees the data dir', async () => {
    const state = JSON.parse(readFileSync(join(dataDir, 'local.json'), 'utf8')) as RunningStack;
    expect(isAlive(state.dynamodb_pid!)).toBe(true);
    running!.child.kill('SIGTERM');
    expect(await running!.exited).toBe(0);
    expect(isAlive(state.dynamodb_pid!)).toBe(false);
    expect(existsSync(join(dataDir, 'lock.pid'))).toBe(false);
    await expect(fetch(`${firstDemo.api_url}/health`)).rejects.toThrow();
  });

  test('the admin CLI also works while the stack is stopped', async () => {
    const plan = await admin('create-plan', '--project', (await admin('seed-demo')).project_id, '--name', 'Made offline');
    expect(plan.plan_id).toMatch(/^pln_/);
    expect(existsSync(join(dataDir, 'lock.pid'))).toBe(false);
  });

  test('a restart keeps the teams, plans and tokens created before, and the demo token', async () => {
    running = startScript('local.ts', [], env);
    await running.waitFor(READY);
    const demo = readDemo();
    expect(demo).toMatchObject({ token: firstDemo.token, plan_id: firstDemo.plan_id, team_id: firstDemo.team_id });
    expect((await previewStatus(demo.api_url, demo.token, demo.plan_id)).status).toBe(200);
    const answer = await previewStatus(demo.api_url, created.token, created.planId);
    expect(answer.status).toBe(200);
    expect(answer.body.data.plan_id).toBe(created.planId);
  });

  test('when DynamoDB Local (Java) dies, npm start says so, stops and frees the data dir', async () => {
    const state = JSON.parse(readFileSync(join(dataDir, 'local.json'), 'utf8')) as RunningStack;
    const apiUrl = state.api_url!;
    expect((await fetch(`${apiUrl}/health`)).status).toBe(200);
    process.kill(state.dynamodb_pid!, 'SIGKILL');
    expect(await running!.exited).toBe(1);
    expect(running!.output()).toMatch(/DynamoDB Local \(Java, pid \d+\) exited with SIGKILL unexpectedly\. The local stack cannot serve without it and has stopped/);
    expect(running!.output()).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(existsSync(join(dataDir, 'lock.pid'))).toBe(false);
    await expect(fetch(`${apiUrl}/health`)).rejects.toThrow();
  });
});
