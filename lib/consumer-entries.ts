/**
 * Writes the entry point of every consumer of the catalog (`npm run generate:entries`): one file
 * per consumer at `consumerEntry(consumer)`, which builds its handler module's `consumerHandler`
 * on the production wiring of exactly the needs its catalog entry declares (and its queue
 * source's redelivery), each need's builder imported by name so that the bundle holds only what
 * those needs use. test/rules/consumer-entries.test.ts fails when a file differs from what this
 * writes, and when an entry point of CONSUMER_ENTRY_DIR belongs to no consumer.
 */
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGeneratedFiles } from './generated-files';
import { CONSUMER_ENTRY_DIR, CONSUMERS, consumerEntry, portNeedsOf, type Consumer, type ConsumerPortNeed, type StoreName } from '../functions/contracts/consumers';

// import.meta.url, not import.meta.dirname: Jest 29's ESM support only provides the former.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The production builder of each need's ports, by module and export: functions/consumer-wiring.ts,
 * functions/wiring.ts for the needs that use its own wiring (every store, the bot, the webhook
 * parts), and Stripe's in functions/billing-wiring.ts so that stripe-node lands in the billing
 * bundle alone.
 * A need that provides no port (`deletes`: a grant only) has none; `table` with `stores` passes
 * `storesPorts` of the listed stores' builders (STORE_BUILDERS) instead of every store.
 */
export const CONSUMER_PORT_BUILDERS: Readonly<Record<Exclude<ConsumerPortNeed, 'deletes' | 'stores'>, { readonly module: string; readonly name: string }>> = {
  table: { module: 'functions/wiring', name: 'tablePorts' },
  sends: { module: 'functions/consumer-wiring', name: 'sendsPorts' },
  bot: { module: 'functions/wiring', name: 'botPorts' },
  eventBus: { module: 'functions/consumer-wiring', name: 'eventBusPorts' },
  webhooks: { module: 'functions/wiring', name: 'webhooksPorts' },
  queueSource: { module: 'functions/consumer-wiring', name: 'queueSourcePorts' },
  stripe: { module: 'functions/billing-wiring', name: 'stripePorts' },
};

/** The production builder of each store a consumer may list (`stores`), in functions/consumer-wiring.ts (with `storesPorts`). */
export const STORE_BUILDERS: Readonly<Record<StoreName, string>> = {
  accounts: 'accountsStore',
  jobs: 'jobsStore',
  codes: 'codesStore',
  chats: 'chatsStore',
  billing: 'billingStore',
  expiry: 'expiryStore',
};

/** The builders an entry passes, by need: its declared needs that provide ports, and its queue source's. */
const buildersOf = (consumer: Consumer): [keyof typeof CONSUMER_PORT_BUILDERS, { module: string; name: string }][] => {
  return portNeedsOf(consumer)
    .filter((need): need is keyof typeof CONSUMER_PORT_BUILDERS => need in CONSUMER_PORT_BUILDERS)
    .sort()
    .map((need) => [need, CONSUMER_PORT_BUILDERS[need]]);
};

/** The source of each consumer's entry point, by repository-relative path. */
export const consumerEntrySources = (): Map<string, string> => {
  const sources = new Map<string, string>();
  for (const consumer of CONSUMERS as readonly Consumer[]) {
    const path = consumerEntry(consumer);
    if (sources.has(path)) throw new Error(`${consumer.id}: another consumer's handler module has the file name of ${consumer.handler}; entry points are named after it`);
    const from = (module: string) => relative(dirname(path), module).replace(/^(?!\.)/, './');
    const builders = buildersOf(consumer);
    // `table` with `stores`: only the listed stores' builders, not every store.
    const stores = consumer.needs.table !== undefined ? consumer.needs.stores : undefined;
    const expression = (need: string, name: string): string =>
      need === 'table' && stores ? `storesPorts(${stores.length ? `{ ${stores.map((store) => `${store}: ${STORE_BUILDERS[store]}`).join(', ')} }` : '{}'})` : name;
    const named = (need: string, name: string): string[] => (need === 'table' && stores ? ['storesPorts', ...stores.map((store) => STORE_BUILDERS[store])] : [name]);
    const byModule = new Map<string, string[]>([['functions/consumer-wiring', ['productionConsumerPorts']]]);
    for (const [need, { module, name }] of builders) {
      const from = need === 'table' && stores ? 'functions/consumer-wiring' : module;
      byModule.set(from, [...(byModule.get(from) ?? []), ...named(need, name)]);
    }
    const imports = [...byModule].sort(([a], [b]) => a.localeCompare(b)).map(([module, names]) => `import { ${[...names].sort().join(', ')} } from '${from(module)}';`);
    const passed = `{ ${builders.map(([need, { name }]) => `${need}: ${expression(need, name)}`).join(', ')} }`;
    sources.set(
      path,
      [
        '// Generated from the consumer catalog by lib/consumer-entries.ts: do not edit.',
        `import { consumerHandler } from '${from(consumer.handler)}';`,
        ...imports,
        '',
        `/** Lambda entry point of the ${consumer.id} consumer (functions/contracts/consumers.ts): its handler on the production wiring of its needs. */`,
        `export const handler = consumerHandler(await productionConsumerPorts('${consumer.id}', ${passed}));`,
        '',
      ].join('\n'),
    );
  }
  return sources;
};

/** Writes every consumer's entry point and removes the entry points of consumers that are gone; returns the paths changed. */
export const writeConsumerEntries = (): string[] => writeGeneratedFiles(ROOT, consumerEntrySources(), CONSUMER_ENTRY_DIR, (file) => file.endsWith('.ts'));

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const changed = writeConsumerEntries();
  console.log(changed.length ? `updated ${changed.join(', ')}` : 'every consumer entry point is up to date');
}
