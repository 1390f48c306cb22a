import './tracing';
import 'reflect-metadata';
import { createScheduler } from './app';
import { loadSchedulerConfig } from './config';

createScheduler(loadSchedulerConfig()).catch((error) => {
  console.error(`scheduler failed to start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
