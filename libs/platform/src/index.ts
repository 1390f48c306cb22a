export * from './postgres';
export * from './wakeable-sleep';
