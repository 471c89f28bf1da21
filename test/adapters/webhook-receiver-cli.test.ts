import { HttpWebhookSender } from '../../functions/adapters/webhooks/http-webhook-sender';
import { checkWebhookUrl } from '../../functions/adapters/webhooks/url-guard';
import { generateWebhookSecret } from '../../functions/domain/webhooks';
import { runScript, startScript, type RunningProcess } from '../support/processes';

// `npm run webhook-receiver` as a person would use it, started the way npm starts it.

describe('npm run webhook-receiver', () => {
  let running: RunningProcess | undefined;
  afterEach(async () => {
    if (running && running.child.exitCode === null) {
      running.child.kill('SIGTERM');
      await running.exited;
    }
    running = undefined;
  });

  it('verifies deliveries with the given secret, fails the first N as told, and prints id, type and verdict', async () => {
    const secret = generateWebhookSecret();
    running = startScript('webhook-receiver.ts', ['--secret', secret, '--port', '0', '--fail', '1', '--fail-status', '503'], {});
    await running.waitFor('listening on ');
    const url = /listening on (\S+) /.exec(running.output())![1]!;
    const check = await checkWebhookUrl(url, { allowPrivate: true });
    if (!check.ok) throw new Error(check.reason);
    const sender = new HttpWebhookSender();
    const message = (secrets: string[]) => ({
      id: 'evt_cli_1',
      body: JSON.stringify({ id: 'evt_cli_1', type: 'access_code.redeemed', data: {} }),
      secrets,
    });

    const first = await sender.send(check.target, message([secret]));
    const second = await sender.send(check.target, message([secret]));
    const forged = await sender.send(check.target, message([generateWebhookSecret()]));
    await running.waitFor('NOT verified');

    expect([first.status, second.status, forged.status]).toEqual([503, 200, 200]);
    const lines = running.output().split('\n');
    expect(lines.filter((line) => line.includes('id=evt_cli_1 type=access_code.redeemed verified (secret #1)'))).toHaveLength(2);
    expect(lines.some((line) => line.includes(' 503 id=evt_cli_1 '))).toBe(true);
    expect(lines.some((line) => line.includes('NOT verified: No matching signature found'))).toBe(true);
    expect(running.output()).not.toContain(secret);
  });

  it('refuses to start without a secret', async () => {
    const { code, output } = await runScript('webhook-receiver.ts', ['--port', '0'], {});

    expect(code).toBe(2);
    expect(output).toContain('at least one --secret is required');
  });
});
