import { Histogram } from 'prom-client';
import { createMetricsRegistry, natsRequestDurations, REQUEST_DURATION_BUCKETS } from '@waitpoints/platform';

/** The gateway's metrics: HTTP requests it answered and NATS requests it sent. */
export class GatewayMetrics {
  readonly registry = createMetricsRegistry();

  readonly httpRequests = new Histogram({
    name: 'waitpoints_http_request_duration_seconds',
    help: 'HTTP requests answered by the gateway, by method, route pattern (unmatched for unknown paths) and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: REQUEST_DURATION_BUCKETS,
    registers: [this.registry],
  });

  readonly natsRequests = natsRequestDurations(this.registry);
}
