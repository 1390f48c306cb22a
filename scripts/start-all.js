#!/usr/bin/env node
// Starts the three services of a local deployment from the compiled output (npm start).
// Each keeps its own process, as in production; Ctrl-C stops all of them.
const { concurrently } = require('concurrently');

const apps = [
  { name: 'token-service', command: 'node dist/apps/token-service/src/main.js', prefixColor: 'cyan' },
  { name: 'gateway', command: 'node dist/apps/gateway/src/main.js', prefixColor: 'green' },
  { name: 'scheduler', command: 'node dist/apps/scheduler/src/main.js', prefixColor: 'magenta' },
];

const { result } = concurrently(apps, { killOthersOn: ['failure'], restartTries: 0 });
result.then(
  () => process.exit(0),
  () => process.exit(1),
);
