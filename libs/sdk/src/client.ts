import { ClientOptions, resolveClientOptions } from './config';
import { HttpTransport } from './http';
import { CursorPagePromise } from './pagination';
import { UnwrappablePromise, WaitpointPromise, WaitpointResult, decodeOutput, errorOf, unwrapResult } from './results';
import {
  CancelTokenOptions,
  CreateTokenOptions,
  CreatedToken,
  ExtendedToken,
  Heartbeat,
  ListTokensOptions,
  RejectionError,
  RetrievedToken,
  TokenListItem,
  TokenRef,
  TokenStatus,
  WaitOptions,
  WireToken,
} from './types';
import { tokenIdOf, tokenPath, waitForToken, waitLimit } from './wait-for-token';

const TOKENS = '/api/v1/waitpoints/tokens';

/** The first token of a group to finish, and which one it was. */
export interface FirstFinished<T> {
  /** Position of the token in the list given. */
  index: number;
  id: string;
  result: WaitpointResult<T>;
}

/**
 * A Waitpoints client bound to one gateway and one credential. `wait` (exported next to it)
 * is a client configured by `configure()` or the environment; create instances when one
 * process talks to several environments.
 */
export class WaitpointsClient {
  private readonly http: HttpTransport;

  constructor(options: ClientOptions = {}) {
    this.http = new HttpTransport(resolveClientOptions(options));
  }

  get baseURL(): string {
    return this.http.options.baseURL;
  }

  async createToken(options: CreateTokenOptions = {}): Promise<CreatedToken> {
    const body = { ...options, timeout: options.timeout instanceof Date ? options.timeout.toISOString() : options.timeout };
    const { body: created, headers } = await this.http.request<{ id: string; url: string; isCached: boolean; approvalUrl?: string }>(
      TOKENS,
      { method: 'POST', body },
    );
    const token: CreatedToken = {
      id: created.id,
      url: created.url,
      isCached: created.isCached,
      publicAccessToken: headers.get('x-trigger-jwt') ?? '',
    };
    if (created.approvalUrl !== undefined) token.approvalUrl = created.approvalUrl;
    return token;
  }

  /** Completes a waiting token with `data` as its output; a finished token is left as it is. */
  async completeToken<T>(token: TokenRef, data: T): Promise<{ success: true }> {
    const { body } = await this.http.request<{ success: true }>(`${tokenPath(tokenIdOf(token))}/complete`, {
      method: 'POST',
      body: data === undefined ? {} : { data },
    });
    return body;
  }

  /** Ends a waiting token as CANCELLED (a Waitpoints extension); its waiters get a WaitpointCancelledError. */
  async cancelToken(token: TokenRef, options: CancelTokenOptions = {}): Promise<{ success: true; status: TokenStatus }> {
    const { body } = await this.http.request<{ success: true; status: TokenStatus }>(`${tokenPath(tokenIdOf(token))}/cancel`, {
      method: 'POST',
      body: options.reason === undefined ? {} : { reason: options.reason },
    });
    return body;
  }

  /**
   * Ends a waiting token with an error (a Waitpoints extension): it becomes REJECTED and its
   * waiters get a WaitpointRejectedError with this message and code. A finished token is left as
   * it is (the answer says its status). An Error can be passed: its message is used.
   */
  async rejectToken(token: TokenRef, error: RejectionError | Error): Promise<{ success: true; status: TokenStatus }> {
    const rejection: RejectionError =
      error instanceof Error ? { message: error.message, code: (error as { code?: unknown }).code as string | undefined } : error;
    const { body } = await this.http.request<{ success: true; status: TokenStatus }>(`${tokenPath(tokenIdOf(token))}/reject`, {
      method: 'POST',
      body: {
        error: typeof rejection.code === 'string' ? { message: rejection.message, code: rejection.code } : { message: rejection.message },
      },
    });
    return body;
  }

  /**
   * Moves a waiting token's timeout (a Waitpoints extension): `timeout` is a duration from now
   * (`30m`, `2h`) or a date. A finished token is refused (ConflictError).
   */
  async extendToken(token: TokenRef, timeout: string | Date): Promise<ExtendedToken> {
    const { body } = await this.http.request<{ success: true; timeoutAt: string; deadline?: string }>(
      `${tokenPath(tokenIdOf(token))}/extend`,
      {
        method: 'POST',
        body: { timeout: timeout instanceof Date ? timeout.toISOString() : timeout },
      },
    );
    return { success: true, timeoutAt: new Date(body.timeoutAt), deadline: new Date(body.deadline ?? body.timeoutAt) };
  }

  /**
   * Restarts the heartbeat clock of a token created with `heartbeatTimeout` (a Waitpoints
   * extension); answers the new deadlines. A finished token is refused (ConflictError).
   */
  async heartbeat(token: TokenRef): Promise<Heartbeat> {
    const { body } = await this.http.request<{ success: true; heartbeatDeadline: string; timeoutAt: string; deadline: string }>(
      `${tokenPath(tokenIdOf(token))}/heartbeat`,
      { method: 'POST', body: {} },
    );
    return {
      success: true,
      heartbeatDeadline: new Date(body.heartbeatDeadline),
      timeoutAt: new Date(body.timeoutAt),
      deadline: new Date(body.deadline),
    };
  }

  async retrieveToken<T = unknown>(token: TokenRef): Promise<RetrievedToken<T>> {
    const { body } = await this.http.request<WireToken>(tokenPath(tokenIdOf(token)));
    const retrieved: RetrievedToken<T> = toListItem(body);
    if (body.output !== undefined && !body.outputIsError) retrieved.output = decodeOutput(body.output, body.outputType) as T;
    const error = errorOf(body);
    if (error) retrieved.error = error;
    return retrieved;
  }

  /** `await` for the first page, or `for await` over every token of every page. */
  listTokens(options: ListTokensOptions = {}): CursorPagePromise<TokenListItem> {
    const query = listQuery(options);
    return new CursorPagePromise(async (cursor) => {
      const pageQuery = { ...query };
      if (cursor.after !== undefined) {
        pageQuery['page[after]'] = cursor.after;
        delete pageQuery['page[before]'];
      }
      if (cursor.before !== undefined) {
        pageQuery['page[before]'] = cursor.before;
        delete pageQuery['page[after]'];
      }
      const { body } = await this.http.request<{ data: WireToken[]; pagination: { next?: string; previous?: string } }>(TOKENS, {
        query: pageQuery,
      });
      return { data: body.data.map(toListItem), pagination: body.pagination };
    });
  }

  /**
   * Waits until the token is finished: `{ ok: true, output }` when completed,
   * `{ ok: false, error }` when it timed out, was cancelled or was rejected (WaitpointRejectedError
   * with the rejection's message and code). `.unwrap()` gives the output or
   * throws that error. Resolves at once for a finished token.
   */
  forToken<T = unknown>(token: TokenRef, options: WaitOptions = {}): WaitpointPromise<T> {
    return UnwrappablePromise.from(waitForToken<T>(this.http, token, options), unwrapResult);
  }

  /**
   * Waits until the first of these tokens is finished (whatever its outcome) and stops
   * waiting for the rest. `.unwrap()` gives that token's output or throws its error.
   */
  forAny<T = unknown>(tokens: TokenRef[], options: WaitOptions = {}): UnwrappablePromise<FirstFinished<T>, T> {
    return UnwrappablePromise.from(this.waitForGroup(tokens, options, 'any') as Promise<FirstFinished<T>>, (first) =>
      unwrapResult(first.result),
    );
  }

  /**
   * Waits until every one of these tokens is finished; results come in the order given.
   * `.unwrap()` gives the outputs or throws the first error in that order.
   */
  forAll<T = unknown>(tokens: TokenRef[], options: WaitOptions = {}): UnwrappablePromise<WaitpointResult<T>[], T[]> {
    return UnwrappablePromise.from(this.waitForGroup(tokens, options, 'all') as Promise<WaitpointResult<T>[]>, (results) =>
      results.map(unwrapResult),
    );
  }

  private async waitForGroup<T>(tokens: TokenRef[], options: WaitOptions, mode: 'any' | 'all') {
    if (!Array.isArray(tokens) || tokens.length === 0)
      throw new TypeError(`wait.for${mode === 'any' ? 'Any' : 'All'} needs at least one token`);
    const ids = tokens.map(tokenIdOf);
    const limit = waitLimit(ids.join(', '), options);
    // One signal for the whole group: the first failure (or the first finish, for `any`) stops the others.
    const group = new AbortController();
    const signal = limit.signal ? AbortSignal.any([limit.signal, group.signal]) : group.signal;
    const waits = ids.map((id) => waitForToken<T>(this.http, id, { signal, onState: options.onState }));
    try {
      if (mode === 'all') return await Promise.all(waits);
      return await Promise.race(waits.map((wait, index) => wait.then((result): FirstFinished<T> => ({ index, id: ids[index], result }))));
    } finally {
      group.abort(new Error('wait finished'));
      limit.dispose();
      for (const wait of waits) wait.catch(() => undefined);
    }
  }
}

function toListItem(token: WireToken): TokenListItem {
  const item: TokenListItem = {
    id: token.id,
    url: token.url,
    status: token.status,
    tags: token.tags,
    createdAt: new Date(token.createdAt),
  };
  if (token.completedAt !== undefined) item.completedAt = new Date(token.completedAt);
  if (token.timeoutAt !== undefined) item.timeoutAt = new Date(token.timeoutAt);
  if (token.idempotencyKey !== undefined) item.idempotencyKey = token.idempotencyKey;
  if (token.idempotencyKeyExpiresAt !== undefined) item.idempotencyKeyExpiresAt = new Date(token.idempotencyKeyExpiresAt);
  if (token.heartbeatTimeoutMs !== undefined) item.heartbeatTimeoutMs = token.heartbeatTimeoutMs;
  if (token.heartbeatDeadline !== undefined) item.heartbeatDeadline = new Date(token.heartbeatDeadline);
  return item;
}

const list = (value: string | string[] | undefined) => (value === undefined ? undefined : [value].flat().join(','));
const epochMs = (value: Date | number | undefined) =>
  value === undefined ? undefined : String(value instanceof Date ? value.getTime() : value);

function listQuery(options: ListTokensOptions): Record<string, string | undefined> {
  return {
    'filter[status]': list(options.status),
    'filter[idempotencyKey]': options.idempotencyKey,
    'filter[tags]': list(options.tags),
    'filter[createdAt][period]': options.period,
    'filter[createdAt][from]': epochMs(options.from),
    'filter[createdAt][to]': epochMs(options.to),
    'page[size]': options.limit === undefined ? undefined : String(options.limit),
    'page[after]': options.after,
    'page[before]': options.before,
  };
}
