/** @type {import('jest').Config} */
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] };

module.exports = {
  // Integration hooks start and stop servers; the per-project value is not applied to hooks.
  testTimeout: 60000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/tests/unit/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
      setupFiles: ['<rootDir>/tests/integration/network-guard.setup.ts'],
      // The Functions worker injects this module at run time; the local host provides a shim.
      moduleNameMapper: { '^@azure/functions-core$': '<rootDir>/local/host/functions-core.shim.ts' },
      testTimeout: 60000,
    },
  ],
};
