export * from './settings';
export * from './logging';
export * from './health';
export * from './metrics';
export * from './ops.controller';
export * from './nats-handler-context';
export * from './tracing';
