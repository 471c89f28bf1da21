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
  testTimeout: 60_000,
  maxWorkers: 2,
};
export default config;
