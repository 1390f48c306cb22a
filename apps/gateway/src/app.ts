import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import cors from 'cors';
import { GatewayConfig } from './config';
import { GatewayModule } from './gateway.module';
import { jsonBody, KiB, MiB } from './http/body-parsers';
import { answerClientErrorsAsJson } from './http/client-errors';
import { correlationIdMiddleware } from './http/correlation-id';
import { JsonErrorFilter } from './http/error.filter';

const TOKENS = '/api/v1/waitpoints/tokens';

/** Create and cancel bodies are flat (tags is the deepest field, at level 2); a little slack. */
const FLAT_BODY_DEPTH = 8;

/** Body limits per route (the SDK's payload limits): create 10 KiB, outputs 3 MiB. */
function registerBodyParsers(app: NestExpressApplication): void {
  const express = app.getHttpAdapter().getInstance();
  // Browsers complete tokens with a public access token, so only this route speaks CORS.
  const completeCors = cors({
    origin: true,
    methods: ['POST', 'OPTIONS'],
    // The rate-limit headers too, so a browser client can wait for x-ratelimit-reset after a 429.
    exposedHeaders: ['x-trigger-jwt', 'x-trigger-jwt-claims', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after'],
    maxAge: 600,
  });
  express.options(`${TOKENS}/:id/complete`, completeCors);
  express.post(`${TOKENS}/:id/complete`, completeCors, jsonBody('json-object', 3 * MiB));
  express.post(TOKENS, jsonBody('json-object', 10 * KiB, { maxDepth: FLAT_BODY_DEPTH }));
  express.post(`${TOKENS}/:id/cancel`, jsonBody('optional-json-object', 10 * KiB, { maxDepth: FLAT_BODY_DEPTH }));
  express.post(`${TOKENS}/:id/callback/:hash`, jsonBody('lenient-json', 3 * MiB));
}

export async function createGateway(config: GatewayConfig): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(GatewayModule.register(config), {
    bodyParser: false,
    logger: process.env.LOG_LEVEL === 'silent' ? false : undefined,
  });
  app.set('query parser', 'simple');
  app.disable('x-powered-by');
  app.use(correlationIdMiddleware);
  registerBodyParsers(app);
  app.useGlobalFilters(new JsonErrorFilter());
  app.enableShutdownHooks();
  answerClientErrorsAsJson(app.getHttpServer());
  await app.listen(config.port, config.host);

  const logger = new Logger('Gateway');
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.log(`REST API listening on http://localhost:${port}${TOKENS} (callback URLs use ${config.publicUrl})`);
  if (config.usingDevKey) {
    const [key] = [...config.apiKeys.keys()];
    logger.log(`Development mode: use the API key "${key}" (environment "dev"); set API_KEYS for real keys`);
  } else {
    logger.log(`Environments: ${[...new Set(config.apiKeys.values())].join(', ')}`);
  }
  return app;
}
