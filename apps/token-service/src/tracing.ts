// Imported first by main.ts: starts OpenTelemetry (when OTEL_EXPORTER_OTLP_ENDPOINT is set)
// before Nest, express, http and pg are loaded. A relative path on purpose: the platform
// index would load pg before the instrumentation could patch it.
import { startTracing } from '../../../libs/platform/src/observability/tracing-bootstrap';

startTracing('token-service');
