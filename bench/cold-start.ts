/**
 * The cold-start figures of `npm run bench`: every Lambda function as `cdk synth` bundles it
 * (the app synthesized into a temporary cloud assembly, esbuild bundling included), its bundle's
 * size, and its cold init time: a fresh `node` process that imports the bundle's index.mjs, with
 * the function's own environment from the template (unresolved references as dummies), until
 * the `handler` export is a function, measured from the process's start (performance.timeOrigin).
 * The floor is a bundle built with the same esbuild settings from a file that only constructs a
 * DynamoDBClient. Secrets read at cold start come from a fake Secrets Manager on 127.0.0.1. A second
 * bundle, the floor plus a stripe-node client, measures in the same run what stripe-node's own
 * init costs (reported without a target: it explains the billing function's row).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { build, type Metafile } from 'esbuild';
import { ESBUILD_OPTIONS } from '../lib/constructs/service-function';
import { addServiceStacks } from '../lib/service';
import { atMost, type Bench, type BenchContext, type Figure } from './figures';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
/**
 * Cold inits per bundle: they take a fraction of a second each. Nine, not five: on a shared machine
 * a burst of other work can cover two or three of one bundle's five runs and move its median.
 */
const COLD_RUNS = 9;
const TARGET = 1.5;

/** One function of the synthesized app. */
interface SynthesizedFunction {
  /** The construct id, e.g. `Deliverer` or `GetJobStatus`. */
  name: string;
  /** Its entry file, from its role's description (`Execution role of <entry>`). */
  entry: string;
  bundle: string;
  environment: Record<string, string>;
}

/** What CloudFormation resolves at deploy time, replaced by something of the right shape. */
const dummyValue = (variable: string): string =>
  variable.endsWith('_URL') ? `https://sqs.us-east-1.amazonaws.com/123456789012/bench-${variable.toLowerCase()}` : `bench-${variable.toLowerCase()}`;

/**
 * Synthesizes the prod stage as `cdk synth -c stage=prod` does (cdk.json's context, bundling on)
 * into `outdir`. Prod, not dev: dev sets no bot username, so its link function cannot start.
 */
const synthesize = (outdir: string): string => {
  const context = (JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
  const app = new App({ outdir, context: { ...context, stage: 'prod' } });
  addServiceStacks(app, { allowExampleValues: true }); // the committed prod entry's example values
  return app.synth().directory;
};

/** The functions of a cloud assembly: name, entry, bundle and environment, from its templates. */
const functionsOf = (assemblyDir: string): SynthesizedFunction[] => {
  const functions: SynthesizedFunction[] = [];
  for (const file of readdirSync(assemblyDir).filter((name) => name.endsWith('.template.json'))) {
    const resources = (JSON.parse(readFileSync(join(assemblyDir, file), 'utf8')) as { Resources: Record<string, { Type: string; Properties: any }> }).Resources;
    for (const [logicalId, resource] of Object.entries(resources)) {
      const s3Key: unknown = resource.Properties?.Code?.S3Key;
      if (resource.Type !== 'AWS::Lambda::Function' || typeof s3Key !== 'string') continue;
      const roleId: string | undefined = resource.Properties.Role?.['Fn::GetAtt']?.[0];
      const roleDescription: string = (roleId && resources[roleId]?.Properties.Description) || '';
      const variables: Record<string, unknown> = resource.Properties.Environment?.Variables ?? {};
      functions.push({
        // ServiceFunction's Lambda is its child `Function`: WebhookDispatchFunctionD516B5E4 → WebhookDispatch.
        name: logicalId.replace(/Function[0-9A-F]{8}$/, ''),
        entry: roleDescription.replace(/^Execution role of /, '') || '?',
        bundle: join(assemblyDir, `asset.${s3Key.replace(/\.zip$/, '')}`, 'index.mjs'),
        environment: Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, typeof value === 'string' ? value : dummyValue(key)])),
      });
    }
  }
  return functions;
};

const FLOOR_SOURCE = "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';\nconst client = new DynamoDBClient({});\nexport const handler = async () => client.config.region();\n";
/** The floor plus stripe-node and its client (the billing function loads the module at cold start and builds the client on its first meter event). */
const FLOOR_STRIPE_SOURCE = `${FLOOR_SOURCE}import Stripe from 'stripe';\nexport const stripe = new Stripe('sk_test_bench', { telemetry: false });\n`;

/** The floor: a bundle of a file that constructs a DynamoDBClient and exports a handler (`contents` adds to it). */
const buildFloor = async (dir: string, contents = FLOOR_SOURCE): Promise<string> => {
  await build({
    ...ESBUILD_OPTIONS,
    stdin: {
      contents,
      // Resolved from the repository, so the floor bundles the same SDK version as the functions.
      resolveDir: ROOT,
      sourcefile: 'cold-start-floor.ts',
      loader: 'ts',
    },
    outdir: dir,
    absWorkingDir: ROOT,
  });
  return join(dir, 'index.mjs');
};

/** The code a bundle deploys: its index.mjs and every chunk beside it (bytes). */
const codeSize = (bundle: string): number => {
  const dir = dirname(bundle);
  const chunks = existsSync(join(dir, 'chunks')) ? readdirSync(join(dir, 'chunks')).filter((file) => file.endsWith('.mjs')) : [];
  return statSync(bundle).size + chunks.reduce((sum, file) => sum + statSync(join(dir, 'chunks', file)).size, 0);
};

/** What dominates a bundle: bytes in the output per npm package (or `functions/` for our code). */
const composition = async (entry: string): Promise<Array<[string, number]>> => {
  const result = await build({ ...ESBUILD_OPTIONS, entryPoints: [join(ROOT, entry)], outdir: mkdtempSync(join(tmpdir(), 'bench-meta-')), write: false, metafile: true, absWorkingDir: ROOT });
  const metafile: Metafile = result.metafile!;
  const byPackage = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const key = match ? match[1]! : input.split('/')[0]!;
      byPackage.set(key, (byPackage.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage].sort((a, b) => b[1] - a[1]);
};

/** Secrets Manager's GetSecretValue for any name, so cold starts that read a secret can finish. */
const startFakeSecretsManager = async () => {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const name = (JSON.parse(body || '{}') as { SecretId?: string }).SecretId ?? 'bench';
      // A bot token's shape, good enough for any secret read at cold start (bot, webhook, Stripe).
      const secret = '123456:BENCH-not-a-secret';
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ ARN: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}`, Name: name, SecretString: secret, VersionId: 'v1' }));
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((done) => server.close(() => done())) };
};

const PROBE = `
const module = await import(process.env.BENCH_BUNDLE_URL);
if (typeof module.handler !== 'function') throw new Error('no handler function');
process.stdout.write(JSON.stringify({ ready: performance.now() }));
`;

/** Milliseconds from a fresh node's start until the bundle's handler is a function. */
const coldInit = async (bundle: string, environment: Record<string, string>, secretsUrl: string): Promise<number> => {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsUrl,
    POWERTOOLS_DEV: 'false',
    ...environment,
    // Logs at cold start would only slow the probe's pipe; the level is not what is measured.
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    AWS_LAMBDA_LOG_LEVEL: 'ERROR',
    BENCH_BUNDLE_URL: new URL(`file://${bundle}`).href,
  };
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', PROBE], { env, timeout: 30_000 });
  return (JSON.parse(stdout) as { ready: number }).ready;
};

/** Functions whose cold start is the same work: the same bundle and the same environment variables. */
const groupByInit = (functions: SynthesizedFunction[]): SynthesizedFunction[][] => {
  const groups = new Map<string, SynthesizedFunction[]>();
  for (const fn of functions) {
    const key = JSON.stringify([fn.bundle, Object.keys(fn.environment).sort()]);
    groups.set(key, [...(groups.get(key) ?? []), fn]);
  }
  return [...groups.values()];
};

/** What a function's row must say besides its figures, by function name (`stripeCost`: this run's stripe-node figure). */
const WHY: Readonly<Record<string, (stripeCost: string) => string>> = {
  Mcp: () =>
    'What moved out of this figure: the MCP SDK (with zod and ajv) is a chunk of its own (chunks/mcp-handler-*.mjs), imported on the first POST /mcp (functions/handlers/mcp/serve-mcp.ts), so that first call pays for loading and evaluating it.',
  Billing: (stripeCost) =>
    "What moved out of this figure: the Stripe key's read from Secrets Manager starts at cold start and is not awaited there (functions/billing-wiring.ts, earlyKeyReader); the first meter event awaits it, " +
    "so on Lambda the round trip overlaps the rest of the init and the first invocation's claim of its records, and that invocation waits for whatever of it is left. " +
    `stripe-node is loaded at cold start (its client is built on the first meter event): ${stripeCost}; ` +
    'stripe-node builds a client for every Stripe resource, while this function makes one call (POST /v1/billing/meter_events).',
};

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

/** Every Lambda bundle's size and cold init time against a bundle that only builds a DynamoDB client. */
export const coldStartBench: Bench = {
  name: 'cold-start',
  title: 'Every Lambda bundle as cdk synth builds it: size and cold init (fresh node → handler ready) against a DynamoDB-client-only bundle',
  run: async (context: BenchContext) => {
    const dir = mkdtempSync(join(tmpdir(), 'memberpass-cold-start-'));
    const secrets = await startFakeSecretsManager();
    try {
      // BENCH_CDK_OUT reuses a cloud assembly already synthesized with bundling (`npx cdk synth`).
      const given = process.env.BENCH_CDK_OUT;
      if (!given) context.log('synthesizing the app with bundling (esbuild), as cdk synth does…');
      const functions = functionsOf(given ? resolve(given) : synthesize(join(dir, 'cdk.out')));
      const floorBundle = await buildFloor(join(dir, 'floor'));
      const stripeBundle = await buildFloor(join(dir, 'floor-stripe'), FLOOR_STRIPE_SOURCE);
      const groups = groupByInit(functions);
      const loadBefore = loadavg();
      const runs = Math.max(COLD_RUNS, context.runs);
      context.log(`${functions.length} functions, ${groups.length} distinct cold starts; ${runs} cold inits each, and of the floor bundle`);
      const floorEnv = { NODE_OPTIONS: functions[0]?.environment.NODE_OPTIONS ?? '' };
      await coldInit(floorBundle, floorEnv, secrets.url); // warms the file cache
      const floor: number[] = [];
      const withStripe: number[] = [];
      const ours = groups.map(() => [] as number[]);
      // Interleaved, so that a noisy moment on the shared machine hits every bundle alike.
      for (let i = 0; i < runs; i++) {
        floor.push(await coldInit(floorBundle, floorEnv, secrets.url));
        withStripe.push(await coldInit(stripeBundle, floorEnv, secrets.url));
        for (const [g, group] of groups.entries()) ours[g]!.push(await coldInit(group[0]!.bundle, group[0]!.environment, secrets.url));
      }
      const loadAfter = loadavg();
      const floorSize = codeSize(floorBundle);
      const stripeSize = codeSize(stripeBundle);
      const stripeFigure = atMost(`cold init: the floor plus a stripe-node client (${kib(stripeSize)}), no target`, 'ms', withStripe, floor, TARGET);
      const stripeCost = `stripe-node's own init, measured in this run: the floor bundle plus \`new Stripe(key)\` is ${kib(stripeSize - floorSize)} larger and takes ${(stripeFigure.ours - stripeFigure.floor).toFixed(0)} ms more (${stripeFigure.ratio.toFixed(2)}× the floor)`;
      const sizes = groups.map((group) => codeSize(group[0]!.bundle));
      const heaviest = sizes.indexOf(Math.max(...sizes));
      const parts = await composition(groups[heaviest]![0]!.entry);
      const total = parts.reduce((sum, [, bytes]) => sum + bytes, 0);
      const top = parts
        .slice(0, 5)
        .map(([name, bytes]) => `${name} ${kib(bytes)} (${((100 * bytes) / total).toFixed(0)}%)`)
        .join(', ');
      const common =
        `A fresh \`node\` per run, from process start (performance.timeOrigin) until the bundle's \`handler\` export is a function, median of ${runs}, ` +
        `interleaved with the floor (a ${kib(floorSize)} bundle, same esbuild settings, that only constructs a DynamoDBClient). Sizes count index.mjs and its chunks (what import() loads on first use is in chunks/, read then, not at cold start, for the floor as for the functions). ` +
        `The Lambda runtime is nodejs22.x; this machine has Node ${process.version}. Each function gets its environment from the prod template ` +
        `(NODE_OPTIONS=--enable-source-maps included; references replaced by dummies) and reads its cold-start secrets from a fake Secrets Manager on 127.0.0.1. ` +
        `Each HTTP route and each consumer has an entry point of its own (functions/entrypoints/, generated from the operation and consumer catalogs), so its bundle holds its handler and what its needs use (a consumer: the stores it lists). ` +
        `Load average (1, 5, 15 min) when the cold inits began: ${loadBefore.map((load) => load.toFixed(2)).join(', ')}; when they ended: ${loadAfter.map((load) => load.toFixed(2)).join(', ')}.`;
      const figures: Figure[] = groups.map((group, g) => {
        const names = group.map((fn) => fn.name);
        const label = names.length > 2 ? `${names[0]} and ${names.length - 1} more` : names.join(', ');
        const figure = atMost(`cold init: ${label} (${kib(sizes[g]!)})`, 'ms', ours[g]!, floor, TARGET);
        const lines = [`${group[0]!.entry}${names.length > 2 ? ` (${names.join(', ')})` : ''}.`];
        if (g === 0) lines.unshift(common);
        if (g === heaviest) lines.push(`The heaviest bundle: ${kib(sizes[g]!)} against the floor's ${kib(floorSize)}; by package: ${top}.`);
        if (WHY[names[0]!]) lines.push(WHY[names[0]!]!(stripeCost));
        if (!figure.met) lines.push(`Misses ${TARGET}× by ${(((figure.ratio - TARGET) / TARGET) * 100).toFixed(0)}%: more code to load and evaluate at import than the bare client.`);
        return { ...figure, note: lines.join(' ') };
      });
      figures.push({
        ...stripeFigure,
        // As the other benches' figures without a target: shown, not counted.
        target: 'reported',
        met: true,
        note: `The bench's floor source plus \`import Stripe from 'stripe'\` and \`new Stripe('sk_test_bench', { telemetry: false })\`: the module the billing function loads at cold start, and the client it builds on its first meter event. ${stripeCost}.`,
      });
      return { figures };
    } finally {
      await secrets.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
