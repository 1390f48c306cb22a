export * from './subjects';
export * from './token';
export * from './duration';
export * from './errors';
export * from './rpc';
export * from './messages';
export * from './events';
export * from './config';
