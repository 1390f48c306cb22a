import { headers } from 'nats';
import {
  consumeSpan,
  contextFromTraceparent,
  inSpan,
  injectTraceHeaders,
  linkTo,
  traceLogFields,
  traceparentOf,
  tracingEnabled,
  tracingRequested,
} from './tracing';

describe('tracingRequested', () => {
  it('is off without an endpoint, and with an empty one', () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBe(false);
  });

  it('is on with the general or the traces endpoint', () => {
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://localhost:4318/v1/traces' })).toBe(true);
  });

  it('stays off when the SDK is disabled or the traces exporter is none', () => {
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  });
});

describe('with tracing off (no SDK in this process)', () => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it('loads nothing and every helper is a no-op', () => {
    expect(tracingEnabled()).toBe(false);
    expect(traceparentOf()).toBeUndefined();
    expect(contextFromTraceparent(traceparent)).toBeUndefined();
    expect(linkTo(traceparent)).toBeUndefined();
    expect(traceLogFields()).toEqual({});
    const h = headers();
    injectTraceHeaders(h);
    expect(h.has('traceparent')).toBe(false);
    expect(inSpan('x', {}, (span) => span)).toBeUndefined();
    expect(consumeSpan('x', { metadata: { traceparent } }, undefined, () => 42)).toBe(42);
    expect(Object.keys(require.cache).some((path) => path.includes('@opentelemetry/sdk-node'))).toBe(false);
  });
});
