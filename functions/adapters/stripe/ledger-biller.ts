import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { MeteredUsage } from '../../domain/billing';
import { type Clock, systemClock, type UsageBiller } from '../../domain/ports';
import { DEFAULT_METER_EVENT_NAME } from '../../contracts/env';

/** One line of `stripe-ledger.jsonl`: the meter event Stripe would have received, and when it was written. */
export interface LedgerEntry {
  event_name: string;
  identifier: string;
  /** Unix seconds, as Stripe takes it. */
  timestamp: number;
  payload: { stripe_customer_id: string; value: string };
  recorded_at: string;
}

/** The ledger file under the local data dir. */
export const ledgerFile = (dataDir: string): string => join(dataDir, 'stripe-ledger.jsonl');

/** What every biller on one file shares within the process: the identifiers on file, and the lock. */
interface LedgerState {
  /** Loaded once, on first use: the identifiers already on file, and whether its last line is whole. */
  loaded: Promise<{ ids: Set<string>; needsNewline: boolean }>;
  /** The tail of the chain of appends: each waits for the one before. */
  tail: Promise<unknown>;
}

const states = new Map<string, LedgerState>();

/**
 * The `UsageBiller` port for the local stack without a Stripe key: each meter event (a billing
 * window: `value` billed redemptions) becomes one line of `<dataDir>/stripe-ledger.jsonl` with the meter event's fields, once per
 * identifier, even across restarts (the ids on file are read first) and concurrent calls
 * (one lock per file, shared by every instance in the process). Another process appending to
 * the same file at the same time is not guarded against: the local stack is one process.
 */
export class LedgerUsageBiller implements UsageBiller {
  private readonly path: string;

  constructor(
    dataDir: string,
    private readonly options: { eventName?: string; clock?: Clock } = {},
  ) {
    this.path = resolve(ledgerFile(dataDir));
  }

  /** Appends the usage unless its identifier is on file already (then it is a duplicate: success). */
  reportUsage(usage: MeteredUsage): Promise<void> {
    const state = this.state();
    const append = state.tail.then(async () => {
      const ledger = await state.loaded;
      if (ledger.ids.has(usage.identifier)) return;
      const entry: LedgerEntry = {
        event_name: this.options.eventName ?? DEFAULT_METER_EVENT_NAME,
        identifier: usage.identifier,
        timestamp: Math.floor(usage.timestamp.getTime() / 1000),
        payload: { stripe_customer_id: usage.stripeCustomerId, value: String(usage.value) },
        recorded_at: (this.options.clock ?? systemClock).now().toISOString(),
      };
      // A line torn by a crash mid-write stays on its own line rather than swallowing this one.
      await appendFile(this.path, `${ledger.needsNewline ? '\n' : ''}${JSON.stringify(entry)}\n`, 'utf8');
      ledger.needsNewline = false;
      ledger.ids.add(usage.identifier);
    });
    // A failed append must not block the ones queued behind it; this call still sees its error.
    state.tail = append.catch(() => undefined);
    return append;
  }

  private state(): LedgerState {
    let state = states.get(this.path);
    if (!state) {
      const loaded = loadLedger(this.path);
      // Forget a failed load so the next call reads the file again.
      loaded.catch(() => states.delete(this.path));
      state = { loaded, tail: Promise.resolve() };
      states.set(this.path, state);
    }
    return state;
  }
}

const loadLedger = async (path: string): Promise<{ ids: Set<string>; needsNewline: boolean }> => {
  await mkdir(dirname(path), { recursive: true });
  const text = await readText(path);
  return { ids: new Set(parseLedger(text).map((entry) => entry.identifier)), needsNewline: text.length > 0 && !text.endsWith('\n') };
};

const readText = async (path: string): Promise<string> => {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
};

const parseLedger = (text: string): LedgerEntry[] => {
  const entries: LedgerEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as Partial<LedgerEntry>;
      if (typeof entry.identifier === 'string') entries.push(entry as LedgerEntry);
    } catch {
      // A line torn by a crash: its usage was never acknowledged, so the queue sends it again.
    }
  }
  return entries;
};

/** Every whole line of the ledger, oldest first; empty when nothing was billed. */
export const readLedger = async (dataDir: string): Promise<LedgerEntry[]> => parseLedger(await readText(ledgerFile(dataDir)));
