import { Registry, Histogram } from 'prom-client';
import { histogramQuantile, LATENESS_HISTOGRAM, parseHistogramBuckets, summarizeLateness } from './scheduler-lateness';

/** The overview's "timeout lateness p99" is read from the scheduler's Prometheus text. */
describe('scheduler lateness for the overview', () => {
  async function schedulerText(observations: number[], options: { defaultLabels?: Record<string, string> } = {}) {
    const registry = new Registry();
    if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
    const histogram = new Histogram({
      name: LATENESS_HISTOGRAM,
      help: 'lateness',
      buckets: [0.001, 0.005, 0.01, 0.1, 1],
      registers: [registry],
    });
    for (const seconds of observations) histogram.observe(seconds);
    return registry.metrics();
  }

  it('finds the 99th percentile inside the bucket that holds it, as histogram_quantile does', async () => {
    // 99 fires within 1 ms, one at 50 ms: p99 lies at the top of the first bucket.
    const text = await schedulerText([...Array(99).fill(0.0005), 0.05]);
    const summary = summarizeLateness(text);
    expect(summary).toEqual({ available: true, count: 100, p99Seconds: expect.closeTo(0.001, 6) });
  });

  it('reports a slow tail when more than one fire in a hundred is late', async () => {
    const text = await schedulerText([...Array(90).fill(0.0005), ...Array(10).fill(0.5)]);
    const summary = summarizeLateness(text);
    expect(summary.available && summary.p99Seconds).toBeGreaterThan(0.1);
    expect(summary.available && summary.p99Seconds).toBeLessThanOrEqual(1);
  });

  it('has no percentile before the first timeout fired', async () => {
    expect(summarizeLateness(await schedulerText([]))).toEqual({ available: true, count: 0 });
  });

  it('adds up series that carry extra labels', async () => {
    const text = await schedulerText([0.0005, 0.0005], { defaultLabels: { service: 'scheduler' } });
    expect(parseHistogramBuckets(text, LATENESS_HISTOGRAM)).toContainEqual({ le: Infinity, count: 2 });
  });

  it('is unavailable when the text has no lateness histogram', () => {
    expect(summarizeLateness('# nothing here\n')).toMatchObject({ available: false });
  });

  it('reports the highest finite bound when the quantile lies beyond it', () => {
    expect(
      histogramQuantile(0.99, [
        { le: 1, count: 0 },
        { le: Infinity, count: 5 },
      ]),
    ).toBe(1);
  });
});
