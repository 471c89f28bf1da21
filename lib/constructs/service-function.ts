import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Duration, FileSystem, RemovalPolicy, Validations, type BundlingOptions } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { ENV } from '../../functions/contracts/env';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { buildSync, type BuildOptions } from 'esbuild';
import { TABLE_SCHEMA } from '../../functions/contracts/table';
import type { TableAccess } from '../api-routes';
import type { LogLevel } from '../stages';

/** Repository root: API_ROUTES entries and the lock file are relative to it. */
// import.meta.url, not import.meta.dirname: Jest 29's ESM support only provides the former.
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** CloudWatch namespace of the business metrics the functions emit with Powertools Metrics. */
export const BUSINESS_NAMESPACE = 'MemberPass';

/** The Powertools service name, the same in every function (and in the local stack's default). */
export const SERVICE_NAME = 'memberpass-access-codes';

/** Log levels of a function (Lambda's application log level, POWERTOOLS_LOG_LEVEL). */
export type { LogLevel } from '../stages';

/** What a caller may choose about a service function; everything else is fixed here. */
export interface ServiceFunctionProps {
  /** Entry file relative to the repository root, exporting `handler`. */
  readonly entry: string;
  /** One line for the console. */
  readonly description?: string;
  /** @default 512 (MB); more memory also buys CPU, which esbuild-bundled cold starts like. */
  readonly memorySize?: number;
  /** @default 10 seconds; API Gateway gives up after 30 s anyway. */
  readonly timeout?: Duration;
  /** @default 'INFO' */
  readonly logLevel?: LogLevel;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the function's log group when the stack goes. @default RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Lambda's recursive-loop detection. Allow only on a function that re-queues onto the queue
   * that invokes it and bounds the loop itself. @default Terminate
   */
  readonly recursiveLoop?: lambda.RecursiveLoop;
}

/**
 * DynamoDB actions per access level: what the functions' adapters call (GetCommand,
 * BatchGetCommand, QueryCommand, PutCommand, UpdateCommand, TransactWriteCommand). Deletes are granted apart,
 * per partition (`deleteItems`); a batch read or write is asked for by name (`extraActions`).
 */
export const TABLE_ACTIONS = {
  // BatchGetItem: the free allotment's shards are read in one call (AccountReader.freeAllotmentUsed).
  read: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'],
  // TransactWriteItems is authorized per item action, hence ConditionCheckItem and the writes.
  write: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
} as const;

/** Table actions beyond TABLE_ACTIONS that a function may be given explicitly. */
export type ExtraTableAction = 'dynamodb:BatchWriteItem';

/** What a bundle is made of besides its entry point: the function code, the locked dependencies, the compiler settings. */
const BUNDLE_INPUTS = ['functions', 'package-lock.json', 'tsconfig.json'];
const ESBUILD_VERSION: string = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'node_modules/esbuild/package.json'), 'utf8')).version;

/**
 * How every function is bundled: minified ESM for Node.js 22, `index.mjs` plus its chunks, with
 * source maps (lines only: the sources themselves would double the asset size), the AWS SDK
 * included (the versions the tests ran against rather than whatever the runtime carries).
 */
export const ESBUILD_OPTIONS: Readonly<BuildOptions> = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  mainFields: ['module', 'main'],
  // Some CommonJS dependencies call require() for Node built-ins; an ESM bundle has none.
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  // esbuild's size table on every synth is noise; warnings and errors still show.
  logLevel: 'warning',
  // What the code imports with import() goes in files of its own, read when first imported, not
  // at cold start: the MCP SDK, the Bot API client, the secrets reader, and the AWS SDK's own
  // optional parts (the SSO, STS and login credential providers a function on Lambda never uses).
  splitting: true,
  entryNames: 'index',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
};

/**
 * The asset hash of a function, from its inputs rather than esbuild's output: the output's source
 * map holds paths relative to the output folder, so an output-based hash changed with
 * `cdk synth -o <dir>` and with the checkout's location, re-uploading identical code.
 */
const bundleHash = (entry: string): string => {
  const hash = createHash('sha256').update(JSON.stringify({ entry, esbuild: ESBUILD_OPTIONS, version: ESBUILD_VERSION }));
  for (const input of BUNDLE_INPUTS) hash.update(FileSystem.fingerprint(path.join(PROJECT_ROOT, input)));
  return hash.digest('hex');
};

/**
 * A function's code: `entry` bundled by esbuild's API in this process (`index.mjs` and its map, and
 * a file under `chunks/` for each module the code imports with `import()`).
 * Not NodejsFunction: it starts `npx --no-install esbuild` for every function, about half a
 * second of npm start-up each before esbuild runs (a synthesis of the prod stage: 37 s that way, 15 s this way). With
 * no Docker here, a failed local build fails the synthesis instead of falling back to an image.
 */
const bundledCode = (entry: string): lambda.Code => {
  const bundling: BundlingOptions = {
    image: DockerImage.fromRegistry('unused-local-bundling-only'),
    local: {
      tryBundle: (outputDir) => {
        buildSync({
          ...ESBUILD_OPTIONS,
          absWorkingDir: PROJECT_ROOT,
          entryPoints: [path.join(PROJECT_ROOT, entry)],
          outdir: outputDir,
        });
        return true;
      },
    },
  };
  return lambda.Code.fromAsset(PROJECT_ROOT, { assetHash: bundleHash(entry), assetHashType: AssetHashType.CUSTOM, bundling });
};

/**
 * A Lambda function with the service's defaults fixed in one place: Node.js 22 on arm64,
 * bundled locally by esbuild as minified ESM with source maps, X-Ray tracing, its own log group
 * with a retention, a role of its own (no managed policies), and Powertools configuration.
 * Permissions and the environment variables that go with them are added together
 * (`useTable`, `useQueue`, `useSecret`, `useEventBus`), so a function never gets a grant
 * without the name, or the reverse.
 */
export class ServiceFunction extends Construct {
  /** The Lambda function, for integrations and metrics. */
  readonly function: lambda.Function;
  /** The function's execution role: only what this construct's methods grant. */
  readonly role: iam.Role;
  /** The log group the function writes to. */
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // An own role instead of the default one: the default attaches the managed
    // AWSLambdaBasicExecutionRole, which may write to every log group in the account.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.entry}`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new lambda.Function(this, 'Function', {
      code: bundledCode(props.entry),
      handler: 'index.handler',
      description: props.description,
      // Pinned, not NODEJS_LATEST: a runtime upgrade is a reviewed change, not a side effect of a CDK bump.
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      // Active, not pass-through: Lambda records each invocation's segment. The SDK clients are not
      // wrapped by a tracer (its SDK cost more cold start than the per-call segments were worth).
      recursiveLoop: props.recursiveLoop ?? lambda.RecursiveLoop.TERMINATE,
      tracing: lambda.Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      // JSON with a level Lambda filters on: changing the level is a configuration change of the
      // function (console, or logLevel in lib/stages.ts), not a code deploy. Powertools follows
      // it (Advanced Logging Controls take precedence over POWERTOOLS_LOG_LEVEL).
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel[props.logLevel ?? 'INFO'],
      // INFO keeps the platform REPORT lines (duration, memory, init) per invocation.
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        // The same level, so that Powertools does not warn about a mismatch at every cold start.
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        // Where Powertools Metrics puts the business metrics the dashboard graphs.
        POWERTOOLS_METRICS_NAMESPACE: BUSINESS_NAMESPACE,
        // Stack traces point into the TypeScript sources instead of the minified bundle.
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    // X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permissions. The
    // acknowledgement covers the whole role, so the infrastructure tests check that X-Ray is the
    // only "*" in it.
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which only accept Resource "*".',
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x (LTS) on purpose: moving to a newer Node.js is a reviewed change, not a side effect of upgrading aws-cdk-lib.',
    });
  }

  /**
   * Gives the function the table: the IAM actions for `access` (plus `extraActions`) on the table
   * and Query on its indexes (by their TABLE_SCHEMA names, no wildcard), and TABLE_NAME. `none`
   * adds neither.
   */
  useTable(table: ITableV2, access: TableAccess, extraActions: readonly ExtraTableAction[] = []): this {
    if (access === 'none') return this;
    const indexArns = TABLE_SCHEMA.indexes.map((index) => `${table.tableArn}/index/${index.indexName}`);
    const actions = access === 'readWrite' ? [...TABLE_ACTIONS.read, ...TABLE_ACTIONS.write] : [...TABLE_ACTIONS.read];
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...actions, ...extraActions], resources: [table.tableArn] }));
    // Indexes can only be queried.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: indexArns }));
    this.function.addEnvironment(ENV.TABLE_NAME, table.tableName);
    return this;
  }

  /**
   * Lets the function delete items (DeleteItem, alone or in a transaction) only in partitions
   * whose key starts with one of `partitionPrefixes` (`CHAT#`, …): a `dynamodb:LeadingKeys`
   * condition, the finest IAM offers (it cannot name sort keys). Needs `useTable` for TABLE_NAME.
   */
  deleteItems(table: ITableV2, partitionPrefixes: readonly string[]): this {
    if (partitionPrefixes.length === 0) return this;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:DeleteItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': partitionPrefixes.map((prefix) => `${prefix}*`) } },
      }),
    );
    return this;
  }

  /**
   * Lets the function send to one queue: sqs:SendMessage on it only (it also authorizes
   * SendMessageBatch), and its URL in `variable` (one function may send to several queues).
   * Consuming is the event source mapping's grant.
   */
  useQueue(variable: string, queue: IQueue): this {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
    this.function.addEnvironment(variable, queue.queueUrl);
    return this;
  }

  /**
   * Lets the function read one Secrets Manager secret: secretsmanager:GetSecretValue on that
   * secret only, and its ARN (or, for a secret known only by name, its name) in `variable`. The
   * value never enters the template. A secret referenced by name has an ARN ending in a random
   * suffix, hence `-??????`.
   */
  useSecret(variable: string, secret: ISecret): this {
    const arn = secret.secretFullArn ?? `${secret.secretArn}-??????`;
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [arn] }));
    this.function.addEnvironment(variable, secret.secretFullArn ?? secret.secretName);
    return this;
  }

  /** Lets the function publish to one event bus: events:PutEvents on it only, and EVENT_BUS_NAME. */
  useEventBus(bus: IEventBus): this {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [bus.eventBusArn] }));
    this.function.addEnvironment(ENV.EVENT_BUS_NAME, bus.eventBusName);
    return this;
  }
}
