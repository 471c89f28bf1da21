/**
 * `npm run bench [-- --only <name> …] [--runs N] [--list]`: runs the benchmarks in order, each
 * against one in-memory DynamoDB Local started here, and writes bench/results.json and, from it,
 * bench/RESULTS.md (with `--only`, the other benches' rows are kept from the previous results).
 * A bench that throws is reported as a failed row; the others still run. A report, not a test:
 * it exits 0 whatever the ratios (1 only when it cannot run at all, e.g. an unknown name).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDynamoDbLocal } from '../local/dynamodb-local';
import { coldStartBench } from './cold-start';
import { expiryBench } from './expiry';
import { fileJobBench } from './file-job';
import type { Bench } from './figures';
import { messagesJobBench } from './messages-job';
import { redemptionBench } from './redemption';
import { webhookBench } from './webhooks';
import { describeMachine, mergeResults, readResults, renderResults, type BenchEntry } from './results';

process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Every bench, in the order `npm run bench` runs them and the page lists them. */
const BENCHES: Bench[] = [
  fileJobBench,
  messagesJobBench,
  redemptionBench,
  expiryBench,
  webhookBench,
  coldStartBench,
];

const BENCH_DIR = import.meta.dirname;
const RESULTS_JSON = join(BENCH_DIR, 'results.json');
const RESULTS_MD = join(BENCH_DIR, 'RESULTS.md');

const main = async (): Promise<number> => {
  const { values, positionals } = parseArgs({
    options: { only: { type: 'string', multiple: true }, runs: { type: 'string', default: '3' }, list: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  if (values.list) {
    for (const bench of BENCHES) console.log(`${bench.name.padEnd(14)} ${bench.title}`);
    return 0;
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`--runs takes a positive whole number, not ${values.runs}`);
    return 1;
  }
  // `--only a b`, `--only a,b` and `--only a --only b` all work: the names after the first are positionals.
  const only = [...(values.only ?? []), ...positionals].flatMap((value) => value.split(',')).filter(Boolean);
  const unknown = only.filter((name) => !BENCHES.some((bench) => bench.name === name));
  if (unknown.length) {
    console.error(`unknown bench ${unknown.join(', ')}; --list names them: ${BENCHES.map((bench) => bench.name).join(', ')}`);
    return 1;
  }
  const selected = only.length ? BENCHES.filter((bench) => only.includes(bench.name)) : BENCHES;

  const machine = describeMachine();
  const startedAt = new Date();
  const started = performance.now();
  console.log(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`);
  const entries: BenchEntry[] = [];
  const artifacts: Array<{ file: string; content: string }> = [];
  {
    for (const bench of selected) {
      // A fresh in-memory DynamoDB Local per bench: after one bench's tens of thousands of
      // writes, a shared one kept a core busy for minutes with the tables already dropped, and
      // the next bench measured that (the messages job ran 9× slower; bare updates fell to 11/s).
      const dynamo = await startDynamoDbLocal();
      const ranAt = new Date();
      const benchStarted = performance.now();
      console.log(`\n== ${bench.name}: ${bench.title}`);
      const entry: BenchEntry = { name: bench.name, title: bench.title, ranAt: ranAt.toISOString(), durationMs: 0, runs, machine, figures: [], artifacts: [] };
      try {
        const result = await bench.run({ runs, dynamoEndpoint: dynamo.endpoint, log: (line) => console.log(`[${bench.name}] ${line}`) });
        entry.figures = result.figures;
        for (const artifact of result.artifacts ?? []) {
          artifacts.push(artifact);
          entry.artifacts.push({ file: artifact.file, markdown: artifact.markdown });
        }
        for (const figure of result.figures) {
          console.log(`[${bench.name}] ${figure.figure}: ${figure.ours.toFixed(1)} vs ${figure.floor.toFixed(1)} ${figure.unit} = ${figure.ratio.toFixed(2)}× (${figure.target}: ${figure.met ? 'met' : 'MISSED'})`);
        }
      } catch (error) {
        entry.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        console.error(`[${bench.name}] failed:`, error);
      }
      await dynamo.stop();
      entry.durationMs = performance.now() - benchStarted;
      entries.push(entry);
    }
  }
  const totalMs = performance.now() - started;
  const results = mergeResults(
    readResults(RESULTS_JSON),
    { startedAt: startedAt.toISOString(), totalMs, machine, benches: selected.map((bench) => bench.name) },
    entries,
    BENCHES.map((bench) => bench.name),
  );
  for (const artifact of artifacts) writeFileSync(join(BENCH_DIR, artifact.file), artifact.content);
  writeFileSync(RESULTS_JSON, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(RESULTS_MD, renderResults(results));
  console.log(`\nwrote bench/RESULTS.md and bench/results.json in ${(totalMs / 1000).toFixed(0)} s`);
  return 0;
};

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('the benchmarks could not run:', error);
    process.exit(1);
  },
);
