// Fault injection (`npm run test:faults`): the built apps (dist/) as separate processes under
// steady load, with private nats-server and PostgreSQL instances that the faults stop and kill.
// Kept out of `npm test`: it needs a build and takes minutes. Files: test/faults/*.fault-spec.ts.
const base = require('./jest.config.js');
const shared = { ...base.projects[0] };
delete shared.displayName;
delete shared.testMatch;

module.exports = {
  ...shared,
  displayName: 'faults',
  testMatch: ['<rootDir>/test/faults/**/*.fault-spec.ts'],
  testTimeout: 15 * 60_000,
  globalSetup: '<rootDir>/test/faults/global-setup.ts',
  globalTeardown: '<rootDir>/test/faults/global-teardown.ts',
};
