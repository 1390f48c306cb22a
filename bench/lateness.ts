/**
 * Lateness helpers shared by bench:timeouts and bench:heartbeats: the scheduler's own lateness
 * histogram (over NATS), the TokenTimedOut events' timedOutAt − timeoutAt, and distributions.
 */
import { firstValueFrom, timeout } from 'rxjs';
import { Client } from 'pg';
import { RpcReply } from '@waitpoints/contracts';
import { PrefixedNatsClient } from '@waitpoints/contracts/nats/prefixed-transport';

/** The scheduler's own metrics, over NATS (Prometheus text). */
export async function schedulerMetrics(client: PrefixedNatsClient): Promise<Map<string, number>> {
  const reply = await firstValueFrom(client.send<RpcReply<string>>('qry.scheduler.metrics', {}).pipe(timeout(10_000)));
  if (!reply.ok) throw new Error(reply.error.message);
  const values = new Map<string, number>();
  for (const line of reply.value.split('\n')) {
    const match = /^(waitpoints_scheduler_\S+)\s+(\S+)$/.exec(line);
    if (match) values.set(match[1], Number(match[2]));
  }
  return values;
}

/** Quantiles of the scheduler's lateness histogram between two snapshots, as bucket upper bounds (ms). */
export function histogramQuantiles(before: Map<string, number>, after: Map<string, number>) {
  const name = 'waitpoints_scheduler_timer_lateness_seconds_bucket';
  const buckets = [...after.entries()]
    .filter(([key]) => key.startsWith(name))
    .map(([key, value]) => ({ le: key.match(/le="([^"]+)"/)![1], count: value - (before.get(key) ?? 0) }))
    .map((b) => ({ le: b.le === '+Inf' ? Infinity : Number(b.le) * 1000, count: b.count }))
    .sort((a, b) => a.le - b.le);
  const total = buckets[buckets.length - 1]?.count ?? 0;
  const quantile = (q: number) => buckets.find((b) => b.count >= q * total)?.le ?? NaN;
  const counter = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  return {
    fired: total,
    p50AtMostMs: quantile(0.5),
    p99AtMostMs: quantile(0.99),
    notDueRetries: counter('waitpoints_scheduler_fires_not_due_total'),
    fireFailures: counter('waitpoints_scheduler_fire_failures_total'),
  };
}

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function distribution(values: number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1] ?? NaN),
    mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
  };
}

/** Lateness of the tokens tagged `tag` that timed out: TokenTimedOut.timedOutAt − its timeoutAt. */
export async function ourResults(db: Client, tag: string) {
  const { rows } = await db.query(
    `SELECT (extract(epoch FROM (e.data->>'timedOutAt')::timestamptz - (e.data->>'timeoutAt')::timestamptz) * 1000)::float8 AS late_ms,
            (extract(epoch FROM (e.data->>'timedOutAt')::timestamptz) * 1000)::float8 AS at_ms,
            (extract(epoch FROM (e.data->>'timeoutAt')::timestamptz) * 1000)::float8 AS due_ms
       FROM waitpoint_tokens t JOIN es_events e ON e.stream_id = 'token-' || t.id AND e.event_type = 'TokenTimedOut'
      WHERE $1 = ANY(t.tags)`,
    [tag],
  );
  return rows.map((r) => ({ lateMs: Number(r.late_ms), atMs: Number(r.at_ms), dueMs: Number(r.due_ms) }));
}
