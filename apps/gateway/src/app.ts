import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import cors from 'cors';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { createServiceLogger, resolveLogLevel } from '@waitpoints/platform';
import { GatewayConfig } from './config';
import { registerDashboardHttp } from './dashboard/dashboard-http';
import { GatewayModule } from './gateway.module';
import { jsonBody, KiB } from './http/body-parsers';
import { answerClientErrorsAsJson } from './http/client-errors';
import { correlationContext, correlationIdMiddleware } from './http/correlation-id';
import { JsonErrorFilter } from './http/error.filter';
import { requestLogging, requestMetrics } from './http/request-logging';
import { applyRequestTimeouts } from './http/request-timeouts';
import { securityHeaders } from './http/security-headers';
import { weakEtag } from './http/etag';
import { setUpApiDocs } from './openapi/api-docs';
import { MAX_OUTPUT_BODY_BYTES } from './tokens/token-output';
import { APPROVAL_PAGE_ROUTE, approvalFormBody } from './tokens/approval-page/approval-page.http';
import { REJECT_BODY_LIMIT_BYTES } from './tokens/reject-token/reject-token.request.dto';
import { GatewayMetrics } from './ops/gateway-metrics';
import { startupLines } from './startup-lines';

const TOKENS = '/api/v1/waitpoints/tokens';

/** Create and cancel bodies are flat (tags is the deepest field, at level 2); a little slack. */
const FLAT_BODY_DEPTH = 8;

/** Body limits per route (the SDK's payload limits): create 10 KiB, outputs 3 MiB (see token-output.ts). */
function registerBodyParsers(app: NestExpressApplication): void {
  const express = app.getHttpAdapter().getInstance();
  // Browsers complete tokens with a public access token, so only this route speaks CORS.
  const completeCors = cors({
    origin: true,
    methods: ['POST', 'OPTIONS'],
    // The rate-limit headers too, so a browser client can wait for x-ratelimit-reset after a 429.
    exposedHeaders: [
      'x-trigger-jwt',
      'x-trigger-jwt-claims',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
      'retry-after',
    ],
    maxAge: 600,
  });
  express.options(`${TOKENS}/:id/complete`, completeCors);
  express.post(`${TOKENS}/:id/complete`, completeCors, jsonBody('json-object', MAX_OUTPUT_BODY_BYTES));
  // Rejects and heartbeats take the same public access tokens as completions, so the same CORS.
  express.options(`${TOKENS}/:id/reject`, completeCors);
  express.post(`${TOKENS}/:id/reject`, completeCors, jsonBody('json-object', REJECT_BODY_LIMIT_BYTES, { maxDepth: FLAT_BODY_DEPTH }));
  express.options(`${TOKENS}/:id/heartbeat`, completeCors);
  express.post(`${TOKENS}/:id/heartbeat`, completeCors, jsonBody('optional-json-object', 1 * KiB, { maxDepth: FLAT_BODY_DEPTH }));
  express.post(`${TOKENS}/:id/extend`, jsonBody('json-object', 10 * KiB, { maxDepth: FLAT_BODY_DEPTH }));
  express.post(TOKENS, jsonBody('json-object', 10 * KiB, { maxDepth: FLAT_BODY_DEPTH }));
  // A token's event stream is read from browsers too (EventSource, or fetch with a header).
  const eventsCors = cors({ origin: true, methods: ['GET', 'OPTIONS'], maxAge: 600 });
  express.options(`${TOKENS}/:id/events`, eventsCors);
  express.get(`${TOKENS}/:id/events`, eventsCors);
  express.post(`${TOKENS}/:id/cancel`, jsonBody('optional-json-object', 10 * KiB, { maxDepth: FLAT_BODY_DEPTH }));
  express.post(`${TOKENS}/:id/callback/:hash`, jsonBody('lenient-json', MAX_OUTPUT_BODY_BYTES));
  express.post(APPROVAL_PAGE_ROUTE, approvalFormBody());
}

export interface GatewayOptions {
  /** Where the JSON logs go (tests capture them); stdout by default. */
  logDestination?: DestinationStream;
}

export async function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<INestApplication> {
  const logger = createServiceLogger('gateway', resolveLogLevel(config.logLevel), options.logDestination);
  const metrics = new GatewayMetrics();
  const app = await NestFactory.create<NestExpressApplication>(GatewayModule.register(config, logger, metrics), {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(app.get(NestPinoLogger));
  app.set('query parser', 'simple');
  app.set('etag', weakEtag);
  app.disable('x-powered-by');
  app.use(securityHeaders(config.publicUrl));
  app.use(correlationIdMiddleware);
  app.use(requestLogging(logger));
  app.use(requestMetrics(metrics));
  registerBodyParsers(app);
  app.use(correlationContext(logger));
  registerDashboardHttp(app.getHttpAdapter().getInstance());
  app.useGlobalFilters(new JsonErrorFilter());
  setUpApiDocs(app, config);
  app.enableShutdownHooks();
  answerClientErrorsAsJson(app.getHttpServer());
  applyRequestTimeouts(app.getHttpServer(), {
    requestTimeoutMs: config.httpRequestTimeoutMs,
    headersTimeoutMs: config.httpHeadersTimeoutMs,
  });
  await app.listen(config.port, config.host);

  const startup = new Logger('Gateway');
  const address = app.getHttpServer().address();
  const bound = typeof address === 'object' && address ? address : { address: config.host, family: 'IPv4', port: config.port };
  for (const line of startupLines(bound, config.publicUrl)) startup.log(line);
  if (config.usingDevKey) {
    const [key] = [...config.apiKeys.keys()];
    startup.log(`Development mode: use the API key "${key}" (environment "dev"); set API_KEYS for real keys`);
  } else {
    startup.log(`Environments: ${[...new Set(config.apiKeys.values())].join(', ')}`);
  }
  return app;
}
