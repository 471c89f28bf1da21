import type { Config } from 'jest';

/**
 * Test files of the unit tier (`npm run test:unit`): no Java, no DynamoDB Local. The rules,
 * in-memory ports and fakes, HTTP on 127.0.0.1, and the CDK templates synthesized without
 * bundling. A file listed here that asks for DynamoDB Local fails (TEST_DYNAMODB_ENDPOINTS is
 * unset in this tier); a file not listed runs in the integration tier, with DynamoDB Local.
 */
const UNIT_TESTS: readonly string[] = [
  'test/rules/[^/]+',
  'test/adapters/(account-read-cache|eventbridge-patterns|eventbridge-publisher|http-webhook-sender|ledger-biller|outbox-relay|sqs-job-queue|sqs-webhook-retry-scheduler|stripe-biller|stripe-fake|telegram-fake|telegram-token-rotation|telegram|webhook-receiver-cli|webhook-url-guard|webhook-wiring)',
  'test/local/(cursor-key|in-process-bus|in-process-queue|invocation-logs|stream-checkpoints)',
  'test/pipeline/handler-metrics',
  'test/use-cases/[^/]+',
  'test/infrastructure/(?!stateless-stack\\.)[^/]+',
];
/** The one synthesis that bundles every function with esbuild (its tests read the bundles): no Java, but slow. */
const BUNDLE_TESTS: readonly string[] = ['test/infrastructure/stateless-stack'];
const asRegex = (files: readonly string[]) => files.map((file) => `/${file}\\.test\\.ts$`);

/** What every project shares. Tests run as native ESM (`node --experimental-vm-modules`): @middy/core 7 ships ESM only. */
const common = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
} satisfies Config;

/**
 * Three projects: `unit` (UNIT_TESTS), `bundle` (BUNDLE_TESTS) and `integration`, the rest, for
 * which test/support/global-setup.ts starts one in-memory DynamoDB Local per worker. `npm test`
 * runs all three; `npm run test:unit` selects `unit`. Jest runs a project's global setup only
 * when it runs a test of that project, so Java starts only for `integration`.
 */
const config: Config = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testRegex: asRegex(UNIT_TESTS),
      globalSetup: '<rootDir>/test/support/global-setup-unit.ts',
    },
    {
      ...common,
      displayName: 'bundle',
      testRegex: asRegex(BUNDLE_TESTS),
      globalSetup: '<rootDir>/test/support/global-setup-unit.ts',
    },
    {
      ...common,
      displayName: 'integration',
      testRegex: ['\\.test\\.ts$'],
      testPathIgnorePatterns: ['/node_modules/', ...asRegex(UNIT_TESTS), ...asRegex(BUNDLE_TESTS)],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
  // A liveness bound, not a speed target: the heaviest tests share a worker's DynamoDB Local (a
  // single Java process that saturates near 8 requests in flight), so their time varies with
  // what the other worker is running. Speed is measured in `npm run bench`.
  testTimeout: 180_000,
  maxWorkers: 2,
  testSequencer: '<rootDir>/jest.sequencer.cjs',
};
export default config;
