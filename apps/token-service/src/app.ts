import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { Logger as PinoLogger } from 'pino';
import { PrefixedNatsServer } from '@waitpoints/contracts/nats/prefixed-transport';
import { observeNatsHandlers } from '@waitpoints/platform';
import { TokenServiceConfig } from './config';
import { TokenServiceMetrics } from './ops/token-service-metrics';
import {
  TOKEN_SERVICE_LOGGER,
  TOKEN_SERVICE_NATS_SERVER,
  TOKEN_SERVICE_QUEUE,
  TokenServiceModule,
  TokenServiceOverrides,
} from './token-service.module';

export { TOKEN_SERVICE_QUEUE };

/**
 * The token-service: NATS message handlers (commands and queries), plus a small HTTP listener
 * for /metrics, /health and /ready on `METRICS_PORT` (none when it is `off`).
 */
export async function createTokenService(config: TokenServiceConfig, overrides: TokenServiceOverrides = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(TokenServiceModule.register(config, overrides), {
    bufferLogs: true,
  });
  app.useLogger(app.get(NestPinoLogger));
  app.disable('x-powered-by');
  const nats = app.get<PrefixedNatsServer>(TOKEN_SERVICE_NATS_SERVER);
  nats.wrapHandlersWith(
    observeNatsHandlers(app.get<PinoLogger>(TOKEN_SERVICE_LOGGER), app.get(TokenServiceMetrics).natsHandlers, config.nats.subjectPrefix),
  );
  app.connectMicroservice({ strategy: nats }, { inheritAppConfig: true });
  app.enableShutdownHooks();
  // Lifecycle hooks first (JetStream stream, outbox relay), then NATS, then the ops port.
  await app.init();
  await app.startAllMicroservices();
  const logger = new Logger('TokenService');
  logger.log(
    `listening on NATS ${config.nats.servers.join(',')} (subjects ${config.nats.subjectPrefix}.cmd.token.*, ${config.nats.subjectPrefix}.qry.token.*)`,
  );
  if (config.ops.port !== undefined) {
    await app.listen(config.ops.port, config.ops.host);
    logger.log(`metrics, health and readiness on ${await app.getUrl()}/metrics, /health, /ready`);
  }
  return app;
}
