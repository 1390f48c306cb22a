import { Inject, Injectable } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { RpcReply, SchedulerQuerySubjects } from '@waitpoints/contracts';
import { TOKEN_SERVICE_TRANSPORT } from '../transport/token-service.client';

export const LATENESS_HISTOGRAM = 'waitpoints_scheduler_timer_lateness_seconds';

/** The scheduler's timeout lateness as the overview shows it. */
export type LatenessSummary = { available: true; count: number; p99Seconds?: number } | { available: false; reason: string };

/**
 * A quantile of a Prometheus histogram from its cumulative buckets, interpolated linearly
 * inside the bucket that holds it (what PromQL's histogram_quantile does). Undefined when the
 * histogram is empty. A quantile in the +Inf bucket is reported as the highest finite bound.
 */
export function histogramQuantile(quantile: number, buckets: { le: number; count: number }[]): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.length > 0 ? sorted[sorted.length - 1].count : 0;
  if (total === 0) return undefined;
  const rank = quantile * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of sorted) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return lowerBound;
      const inBucket = bucket.count - lowerCount;
      return inBucket === 0 ? bucket.le : lowerBound + (bucket.le - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    lowerBound = bucket.le;
    lowerCount = bucket.count;
  }
  return lowerBound;
}

/**
 * The cumulative buckets of one histogram in Prometheus text. Series that differ in other
 * labels (e.g. default labels a registry adds) are summed per bound.
 */
export function parseHistogramBuckets(text: string, name: string): { le: number; count: number }[] {
  const byBound = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const raw of text.split('\n')) {
    const row = raw.trim();
    if (!row.startsWith(prefix)) continue;
    const close = row.lastIndexOf('}');
    const le = /(?:^|,)\s*le="([^"]+)"/.exec(row.slice(prefix.length, close))?.[1];
    const count = Number(
      row
        .slice(close + 1)
        .trim()
        .split(/\s+/)[0],
    );
    if (le === undefined || !Number.isFinite(count)) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    if (Number.isNaN(bound)) continue;
    byBound.set(bound, (byBound.get(bound) ?? 0) + count);
  }
  return [...byBound].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

export function summarizeLateness(prometheusText: string): LatenessSummary {
  const buckets = parseHistogramBuckets(prometheusText, LATENESS_HISTOGRAM);
  if (buckets.length === 0) return { available: false, reason: 'the scheduler reported no lateness histogram' };
  const count = Math.max(...buckets.map((b) => b.count));
  const p99 = histogramQuantile(0.99, buckets);
  return p99 === undefined ? { available: true, count } : { available: true, count, p99Seconds: p99 };
}

/** How long the overview waits for a scheduler before showing "n/a". */
export const SCHEDULER_METRICS_TIMEOUT_MS = 1_000;

/**
 * Asks a scheduler instance for its metrics over NATS (one instance of the queue group
 * answers, so the figures are that instance's since it started). Never throws: an absent or
 * slow scheduler is a normal state for the overview.
 */
@Injectable()
export class SchedulerLateness {
  constructor(@Inject(TOKEN_SERVICE_TRANSPORT) private readonly transport: ClientProxy) {}

  async read(): Promise<LatenessSummary> {
    try {
      const reply = await firstValueFrom(
        this.transport.send<RpcReply<string>>(SchedulerQuerySubjects.metrics, {}).pipe(timeout(SCHEDULER_METRICS_TIMEOUT_MS)),
      );
      if (!reply.ok) return { available: false, reason: reply.error.message };
      return summarizeLateness(reply.value);
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      const reason =
        /timeout/i.test((error as Error)?.name ?? '') || /timeout/i.test(message)
          ? `no scheduler answered within ${SCHEDULER_METRICS_TIMEOUT_MS} ms`
          : /no (responders|subscribers)/i.test(message) || (error as { code?: string }).code === '503'
            ? 'no scheduler is running'
            : `the scheduler could not be asked (${message})`;
      return { available: false, reason };
    }
  }
}
