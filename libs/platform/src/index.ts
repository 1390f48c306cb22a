export * from './postgres';
export * from './wakeable-sleep';
export * from './with-timeout';
export * from './observability';
