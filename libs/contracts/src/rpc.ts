import type { ErrorBody } from './errors';

/**
 * Every reply of the token-service. Expected failures travel as data, not as Nest
 * RpcExceptions, so their code and message survive the hop intact.
 */
export type RpcReply<T> = { ok: true; value: T } | { ok: false; error: ErrorBody };

export const rpcOk = <T>(value: T): RpcReply<T> => ({ ok: true, value });
export const rpcError = (error: ErrorBody): RpcReply<never> => ({ ok: false, error });
