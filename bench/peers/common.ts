/**
 * Shared by the bench driver (bench/peers/main.ts) and the waiter processes it starts.
 */

/**
 * The one clock every process of the benchmark stamps with: wall-clock milliseconds with
 * sub-millisecond resolution. `performance.timeOrigin` is taken from the system clock when the
 * process starts, so the values of two processes on one machine can be compared (unlike
 * `process.hrtime`, whose origin is per process). The driver checks the offset between its clock
 * and each waiter process's over IPC and reports it.
 */
export const now = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Rejects after `ms` (and lets the process exit meanwhile: the timer is unref'd). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function distribution(values: number[]): Distribution {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return { count: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  const round = (v: number) => Math.round(v * 10) / 10;
  return { count: sorted.length, p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]) };
}

// ---------------------------------------------------------------- driver ⇄ waiter process (IPC)

export type DriverMessage =
  | { type: 'clock'; seq: number }
  /** Opens waits from `clients` concurrent loops: `count` of them, or as many as fit in `seconds`. */
  | { type: 'open'; clients: number; count?: number; seconds?: number }
  /** Answers once each of `ids` has resumed, or at `timeoutMs`. */
  | { type: 'awaitResumed'; ids: string[]; timeoutMs: number }
  | { type: 'stop' };

export interface OpenReport {
  type: 'opened';
  /** Ids to complete (token id, awakeable id, workflow id), in the order they were opened. */
  ids: string[];
  /** How long each successful open took, ms. */
  latenciesMs: number[];
  failures: number;
  /** The first few failure messages. */
  errors: string[];
  elapsedMs: number;
}

export interface ResumedReport {
  type: 'resumed';
  /** [id, resumed at (`now()`)] for each id that resumed. */
  resumedAt: Array<[string, number]>;
  missing: number;
}

export type WaiterMessage =
  | { type: 'ready'; info: Record<string, unknown> }
  | { type: 'clock'; seq: number; t: number }
  | OpenReport
  | ResumedReport
  | { type: 'stopped' }
  | { type: 'failed'; error: string };
