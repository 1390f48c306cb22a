import './tracing';
import 'reflect-metadata';
import { createGateway } from './app';
import { loadGatewayConfig } from './config';

createGateway(loadGatewayConfig()).catch((error) => {
  console.error(`gateway failed to start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
