import './tracing';
import 'reflect-metadata';
import { createTokenService } from './app';
import { loadTokenServiceConfig } from './config';

createTokenService(loadTokenServiceConfig()).catch((error) => {
  console.error(`token-service failed to start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
