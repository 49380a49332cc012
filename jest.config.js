/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 60000,
  // Two cores: database-heavy files in parallel contend more than they gain.
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
};
