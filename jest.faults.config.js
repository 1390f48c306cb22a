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
  // Each fault takes under a minute plus its outage; a bound well past that turns a hang into a
  // failure instead of holding CI (the scheduler outage is 2 minutes unless FAULTS_SCHEDULER_OUTAGE_MS says).
  testTimeout: Number(process.env.FAULTS_SCHEDULER_OUTAGE_MS ?? 120_000) + 5 * 60_000,
  // Private servers and child processes are stopped in afterAll; a client left hanging by a
  // failed step must not keep the run alive after the report.
  forceExit: true,
  globalSetup: '<rootDir>/test/faults/global-setup.ts',
  globalTeardown: '<rootDir>/test/faults/global-teardown.ts',
};
