export * from './postgres';
export * from './wakeable-sleep';
export * from './observability';
