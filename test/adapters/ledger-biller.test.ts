import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MeteredUsage } from '../../functions/domain/billing';
import { LedgerUsageBiller, ledgerFile, readLedger } from '../../functions/adapters/stripe/ledger-biller';
import { FakeClock } from '../support/clock';

const usage = (identifier: string, stripeCustomerId = 'cus_A'): MeteredUsage => ({
  identifier,
  stripeCustomerId,
  timestamp: new Date('2026-05-01T11:59:30.250Z'),
  value: 1,
});

describe('ledger biller (local stack without a Stripe key)', () => {
  let dataDir: string;
  const clock = new FakeClock(new Date('2026-05-01T12:00:00.000Z'));

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ledger-'));
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('appends the meter event Stripe would have received, as one JSON line', async () => {
    await new LedgerUsageBiller(dataDir, { clock }).reportUsage(usage('rdm_1'));

    expect(await readFile(ledgerFile(dataDir), 'utf8')).toBe(
      `${JSON.stringify({
        event_name: 'access_code_redemption',
        identifier: 'rdm_1',
        timestamp: Math.floor(Date.parse('2026-05-01T11:59:30.250Z') / 1000),
        payload: { stripe_customer_id: 'cus_A', value: '1' },
        recorded_at: '2026-05-01T12:00:00.000Z',
      })}\n`,
    );
  });

  it('writes each redemption once under concurrent calls, repeats included', async () => {
    const biller = new LedgerUsageBiller(dataDir, { clock });
    const ids = Array.from({ length: 10 }, (_, i) => `rdm_${i}`);

    await Promise.all([...ids, ...ids, ...ids].map((id) => biller.reportUsage(usage(id))));

    const written = (await readLedger(dataDir)).map((entry) => entry.identifier);
    expect(written).toHaveLength(10);
    expect(new Set(written)).toEqual(new Set(ids));
  });

  it('writes each redemption once across two instances on the same file, called concurrently', async () => {
    const one = new LedgerUsageBiller(dataDir, { clock });
    const two = new LedgerUsageBiller(dataDir, { clock });
    const ids = Array.from({ length: 10 }, (_, i) => `rdm_${i}`);

    await Promise.all(ids.flatMap((id) => [one.reportUsage(usage(id)), two.reportUsage(usage(id))]));

    expect((await readLedger(dataDir)).map((entry) => entry.identifier).sort()).toEqual([...ids].sort());
  });

  it('after a restart, reads the ids already on file and does not write them again', async () => {
    // A ledger left by an earlier run of the process (this process has not touched this file).
    const earlier = { event_name: 'access_code_redemption', identifier: 'rdm_old', timestamp: 1, payload: { stripe_customer_id: 'cus_A', value: '1' }, recorded_at: 'x' };
    await writeFile(ledgerFile(dataDir), `${JSON.stringify(earlier)}\n`);
    const biller = new LedgerUsageBiller(dataDir, { clock });

    await biller.reportUsage(usage('rdm_old'));
    await biller.reportUsage(usage('rdm_new'));

    expect((await readLedger(dataDir)).map((entry) => entry.identifier)).toEqual(['rdm_old', 'rdm_new']);
  });

  it('keeps a line torn by a crash apart from the next one', async () => {
    await writeFile(ledgerFile(dataDir), '{"event_name":"access_code_redemption","identifier":"rdm_to');
    const biller = new LedgerUsageBiller(dataDir, { clock });

    await biller.reportUsage(usage('rdm_torn'));

    expect((await readLedger(dataDir)).map((entry) => entry.identifier)).toEqual(['rdm_torn']);
    expect((await readFile(ledgerFile(dataDir), 'utf8')).split('\n')).toHaveLength(3);
  });

  it('reads an absent ledger as empty', async () => {
    expect(await readLedger(join(dataDir, 'nothing-here'))).toEqual([]);
  });
});
