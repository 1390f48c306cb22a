import {
  BATCHABLE_QUERY_SUBJECTS,
  ErrorCode,
  RpcReply,
  SendAlone,
  TokenCommandSubjects,
  TokenRequestBatch,
  TokenRequestBatchReply,
  TokenRequestBatchSubject,
} from '@waitpoints/contracts';

export type SendRequest = (subject: string, payload: object) => Promise<unknown>;

export interface CoalescerOptions {
  /** Most requests in one batch message; 1 sends every request on its own. */
  maxRequests: number;
  /**
   * Bound on the bytes of a batch message and of its reply, well below NATS' max_payload
   * (1 MiB by default). Each request is counted at its worst case (see `worstCaseBytes`).
   */
  maxBatchBytes: number;
  /** A request whose own worst case is above this always travels alone. */
  maxBatchedRequestBytes: number;
}

export const DEFAULT_COALESCER_OPTIONS: CoalescerOptions = {
  maxRequests: 64,
  maxBatchBytes: 512 * 1024,
  maxBatchedRequestBytes: 128 * 1024,
};

/**
 * Commands go together: their replies are as small as their requests (a token view without
 * output, or a status), so the request's worst case bounds both. So do the small queries (one
 * token, one page): their replies are not bounded by the query, so the token-service keeps the
 * batch's reply within its budget and answers `sendAlone` for a query that would not fit.
 */
const BATCHABLE_SUBJECTS = new Set<string>([
  TokenCommandSubjects.create,
  TokenCommandSubjects.complete,
  TokenCommandSubjects.cancel,
  TokenCommandSubjects.reject,
  TokenCommandSubjects.extend,
  TokenCommandSubjects.heartbeat,
  ...BATCHABLE_QUERY_SUBJECTS,
]);

/**
 * A query the token-service did not answer in the batch: its reply would not fit (SendAlone),
 * or the token-service predates batched queries and refused it (it answers every query in a
 * batch with "… cannot be sent in a batch"), as during a rolling upgrade.
 */
function mustSendAlone(subject: string, reply: RpcReply<unknown> | SendAlone): boolean {
  // Only a query is ever sent twice: it changes nothing. A command's reply is always its own.
  if (!BATCHABLE_QUERY_SUBJECTS.includes(subject)) return false;
  if ('sendAlone' in reply) return reply.sendAlone === true;
  return !reply.ok && reply.error.code === ErrorCode.ValidationFailed && reply.error.message.endsWith('cannot be sent in a batch');
}

/** Ids, metadata, dates and JSON syntax of a command or of its reply. */
const FIXED_BYTES = 1024;
/** A character costs at most 6 bytes in JSON (a control character escaped as \u00XX). */
const MAX_BYTES_PER_CHAR = 6;

/**
 * Bytes a command or its reply can take at most: its strings (output, idempotency keys,
 * tags, reason) are the only parts of unbounded size, and a reply echoes no more of them.
 */
export function worstCaseBytes(payload: object): number {
  let chars = 0;
  for (const value of Object.values(payload)) {
    if (typeof value === 'string') chars += value.length;
    else if (Array.isArray(value)) for (const item of value) if (typeof item === 'string') chars += item.length;
  }
  return FIXED_BYTES + MAX_BYTES_PER_CHAR * chars;
}

interface Queued {
  subject: string;
  payload: object;
  bytes: number;
  resolve: (reply: RpcReply<unknown>) => void;
  reject: (error: unknown) => void;
}

/**
 * Sends the token-service commands and small queries that arrive in the same turn of the event
 * loop as one NATS message (TokenRequestBatchSubject) and hands each caller its own reply. A request
 * alone in its turn goes out unchanged on its own subject, so an idle gateway adds no delay
 * and no envelope; under load, one NATS round trip serves many HTTP requests.
 * A failure of the batch message (timeout, no responders) is each request's failure.
 */
export class RequestCoalescer {
  private queue: Queued[] = [];
  private flushScheduled = false;

  constructor(
    private readonly send: SendRequest,
    private readonly options: CoalescerOptions = DEFAULT_COALESCER_OPTIONS,
  ) {}

  request(subject: string, payload: object): Promise<RpcReply<unknown>> {
    const bytes = this.options.maxRequests > 1 && BATCHABLE_SUBJECTS.has(subject) ? worstCaseBytes(payload) : Infinity;
    if (bytes > this.options.maxBatchedRequestBytes) return this.send(subject, payload) as Promise<RpcReply<unknown>>;
    return new Promise((resolve, reject) => {
      this.queue.push({ subject, payload, bytes, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After the I/O callbacks of this turn: every HTTP request parsed in it has queued by then.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const queued = this.queue;
    this.queue = [];
    let batch: Queued[] = [];
    let bytes = 0;
    for (const entry of queued) {
      if (batch.length > 0 && (batch.length >= this.options.maxRequests || bytes + entry.bytes > this.options.maxBatchBytes)) {
        this.sendBatch(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(entry);
      bytes += entry.bytes;
    }
    if (batch.length > 0) this.sendBatch(batch);
  }

  private sendBatch(batch: Queued[]): void {
    if (batch.length === 1) {
      const [only] = batch;
      (this.send(only.subject, only.payload) as Promise<RpcReply<unknown>>).then(only.resolve, only.reject);
      return;
    }
    const message: TokenRequestBatch = { requests: batch.map(({ subject, payload }) => ({ subject, payload })) };
    (this.send(TokenRequestBatchSubject, message) as Promise<TokenRequestBatchReply | undefined>).then(
      (reply) => {
        const replies = reply?.replies;
        if (!Array.isArray(replies) || replies.length !== batch.length) {
          const error = new Error(`the token service answered a batch of ${batch.length} requests without a reply for each`);
          for (const entry of batch) entry.reject(error);
          return;
        }
        batch.forEach((entry, i) => {
          const reply = replies[i];
          if (mustSendAlone(entry.subject, reply)) this.sendBatch([entry]);
          else if ('sendAlone' in reply) entry.reject(new Error('the token service asked for a command to be sent again'));
          else entry.resolve(reply);
        });
      },
      (error) => {
        for (const entry of batch) entry.reject(error);
      },
    );
  }
}
