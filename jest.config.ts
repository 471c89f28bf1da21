import type { Config } from 'jest';

/**
 * One DynamoDB Local (in memory) serves the whole run: test/support/global-setup.ts starts it
 * and every test file creates its own table on it. Tests run as native ESM
 * (`node --experimental-vm-modules`), since @middy/core 7 ships ESM only.
 */
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // A liveness bound, not a speed target: the heaviest tests share one DynamoDB Local (a single
  // Java process that saturates near 8 requests in flight), so their time varies with what the
  // other worker is running. Speed is measured in `npm run bench`.
  testTimeout: 180_000,
  maxWorkers: 2,
};
export default config;
