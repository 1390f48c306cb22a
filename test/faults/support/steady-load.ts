import { toInternalTokenId } from '@waitpoints/contracts';
import { sleep } from './processes';

export interface SteadyLoadOptions {
  baseUrl: string;
  apiKey: string;
  /** Requests started per second (creates and completes together). */
  ratePerSecond: number;
  /** Most requests in flight; a tick with every slot busy sends nothing (counted as skipped). */
  maxInFlight: number;
  /** What becomes of each token created: its timeout, and whether and when it is completed. */
  plan: (n: number) => TokenPlan;
  /** A request still unanswered after this is abandoned and counted as a hang. */
  clientTimeoutMs: number;
}

export interface TokenPlan {
  /** The `timeout` sent with the create (a duration or an ISO date). */
  timeout: string;
  /** How long after its creation the token is completed; `undefined` leaves it to its timeout. */
  completeAfterMs?: number;
}

/** Most tokens are completed 300 ms after creation; every fourth is left to time out after 2 s. */
export const mixedTokens = (n: number): TokenPlan => (n % 4 === 3 ? { timeout: '2s' } : { timeout: '1h', completeAfterMs: 300 });

export interface RequestRecord {
  kind: 'create' | 'complete';
  startedAt: number;
  endedAt: number;
  /** HTTP status, or 0 when no HTTP answer came (connection refused, client timeout). */
  status: number;
  error?: string;
}

/**
 * Steady traffic through the gateway's HTTP API, the way SDK users send it: tokens are
 * created at a fixed rate and completed a while later. It keeps the ids of every request
 * that was acknowledged (2xx), which is what the audit holds the system to.
 */
export class SteadyLoad {
  readonly records: RequestRecord[] = [];
  /** Token id (internal) → when its create was acknowledged. */
  readonly ackedCreates = new Map<string, number>();
  /**
   * Token id → the output of its acknowledged completion and when the answer came. A 200 means
   * "completed, or already finished" (the Trigger.dev contract), so the audit accepts a token that
   * had timed out before this completion was answered.
   */
  readonly ackedCompletes = new Map<string, { output: string; ackedAt: number }>();
  /** Token ids whose completion was sent (acknowledged or not). */
  readonly attemptedCompletes = new Set<string>();
  skippedTicks = 0;
  private readonly dueCompletes: { tokenId: string; dueAt: number }[] = [];
  private inFlight = 0;
  private running = false;
  private loop?: Promise<void>;
  private readonly pending = new Set<Promise<void>>();
  private sequence = 0;
  private created = 0;

  constructor(private readonly options: SteadyLoadOptions) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops sending and waits for every request in flight to be answered (or abandoned). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all([...this.pending]);
  }

  private async run(): Promise<void> {
    const intervalMs = 1000 / this.options.ratePerSecond;
    let nextAt = Date.now();
    while (this.running) {
      nextAt += intervalMs;
      if (this.inFlight >= this.options.maxInFlight) this.skippedTicks++;
      else this.track(this.sendOne());
      const wait = nextAt - Date.now();
      if (wait > 0) await sleep(wait);
      else if (wait < -1000) nextAt = Date.now(); // fell far behind (a paused event loop): do not burst
    }
  }

  private track(work: Promise<void>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private sendOne(): Promise<void> {
    const now = Date.now();
    if (this.dueCompletes.length > 0 && this.dueCompletes[0].dueAt <= now) {
      return this.complete(this.dueCompletes.shift()!.tokenId);
    }
    return this.create();
  }

  private async create(): Promise<void> {
    const plan = this.options.plan(this.created++);
    const { status, body } = await this.request('create', '/api/v1/waitpoints/tokens', {
      timeout: plan.timeout,
      tags: ['faults'],
    });
    if (status !== 200) return;
    const tokenId = toInternalTokenId((body as { id: string }).id);
    const ackedAt = Date.now();
    this.ackedCreates.set(tokenId, ackedAt);
    const after = plan.completeAfterMs;
    if (after !== undefined) this.dueCompletes.push({ tokenId, dueAt: ackedAt + after });
    // Completion delays may vary: keep the queue in due order.
    this.dueCompletes.sort((a, b) => a.dueAt - b.dueAt);
  }

  private async complete(tokenId: string): Promise<void> {
    const output = { n: ++this.sequence, at: Date.now() };
    this.attemptedCompletes.add(tokenId);
    const { status } = await this.request('complete', `/api/v1/waitpoints/tokens/waitpoint_${tokenId}/complete`, {
      data: output,
    });
    if (status === 200) this.ackedCompletes.set(tokenId, { output: JSON.stringify(output), ackedAt: Date.now() });
  }

  private async request(kind: RequestRecord['kind'], path: string, body: object): Promise<{ status: number; body?: unknown }> {
    this.inFlight++;
    const startedAt = Date.now();
    const record: RequestRecord = { kind, startedAt, endedAt: 0, status: 0 };
    try {
      const response = await fetch(`${this.options.baseUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.clientTimeoutMs),
      });
      record.status = response.status;
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        record.error = `not JSON: ${text.slice(0, 200)}`;
      }
      if (response.status !== 200 && parsed !== undefined) {
        const error = (parsed as { error?: unknown }).error;
        record.error = typeof error === 'string' ? error : `no {error} message: ${text.slice(0, 200)}`;
      }
      return { status: response.status, body: parsed };
    } catch (error) {
      record.error = (error as Error).name === 'TimeoutError' ? 'no answer (client timeout)' : (error as Error).message;
      return { status: 0 };
    } finally {
      record.endedAt = Date.now();
      this.records.push(record);
      this.inFlight--;
    }
  }

  // ---- what the run looked like from the client's side

  get sent(): number {
    return this.records.length;
  }

  get acknowledged(): number {
    return this.records.filter((r) => r.status === 200).length;
  }

  failures(from = 0, to = Infinity): RequestRecord[] {
    return this.records.filter((r) => r.status !== 200 && r.startedAt >= from && r.startedAt < to);
  }

  /** Distinct error answers, most frequent first, e.g. `503 ×12: The token service …`. */
  errorSummary(from = 0, to = Infinity): string[] {
    const counts = new Map<string, number>();
    for (const r of this.failures(from, to)) {
      const key = `${r.status} ${r.error ?? ''}`.slice(0, 160);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([key, n]) => `${n}× ${key}`);
  }

  /** The longest any request waited for its answer (started in the window). */
  slowestMs(from = 0, to = Infinity): number {
    return Math.max(0, ...this.records.filter((r) => r.startedAt >= from && r.startedAt < to).map((r) => r.endedAt - r.startedAt));
  }

  /**
   * Time from `since` to the first acknowledged request sent at or after it, after which
   * the system kept answering: the first success following the last failure after `since`.
   */
  recoveryMs(since: number): number | undefined {
    const after = this.records.filter((r) => r.startedAt >= since).sort((a, b) => a.startedAt - b.startedAt);
    const lastFailure = after.filter((r) => r.status !== 200).pop();
    const firstGood = after.find((r) => r.status === 200 && (!lastFailure || r.startedAt > lastFailure.startedAt));
    return firstGood ? firstGood.endedAt - since : undefined;
  }
}
