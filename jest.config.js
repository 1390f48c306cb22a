// Three tiers, told apart by file suffix:
//   *.spec.ts      unit: pure code, no I/O
//   *.int-spec.ts  integration: real PostgreSQL and NATS/JetStream
//   *.e2e-spec.ts  end to end: the apps over HTTP (and the official Trigger.dev SDK)
// Type checking is `npm run typecheck`; ts-jest only transpiles, for speed.
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json', diagnostics: false }] },
  moduleNameMapper: {
    '^@waitpoints/contracts(.*)$': '<rootDir>/libs/contracts/src$1',
    '^@waitpoints/platform$': '<rootDir>/libs/platform/src',
    '^@waitpoints/sdk(.*)$': '<rootDir>/libs/sdk/src$1',
  },
  rootDir: __dirname,
};

module.exports = {
  testTimeout: 60000,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,test,examples}/**/*.spec.ts'] },
    { ...shared, displayName: 'int', testMatch: ['<rootDir>/{apps,libs,test,examples}/**/*.int-spec.ts'] },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/{apps,libs,test,examples}/**/*.e2e-spec.ts'] },
  ],
};
