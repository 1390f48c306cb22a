import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { Logger as PinoLogger } from 'pino';
import { PrefixedNatsServer } from '@waitpoints/contracts/nats/prefixed-transport';
import { observeNatsHandlers } from '@waitpoints/platform';
import { SchedulerConfig } from './config';
import {
  SCHEDULER_LOGGER,
  SCHEDULER_NATS_SERVER,
  SCHEDULER_TRANSPORT_METRICS,
  SchedulerModule,
  SchedulerOverrides,
  SchedulerTransportMetrics,
} from './scheduler.module';

/**
 * The scheduler: timers and their NATS queries, plus a small HTTP listener for /metrics,
 * /health and /ready on `SCHEDULER_METRICS_PORT` (none when it is `off`).
 */
export async function createScheduler(config: SchedulerConfig, overrides: SchedulerOverrides = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(SchedulerModule.register(config, overrides), {
    bufferLogs: true,
  });
  app.useLogger(app.get(NestPinoLogger));
  app.disable('x-powered-by');
  const nats = app.get<PrefixedNatsServer>(SCHEDULER_NATS_SERVER);
  nats.wrapHandlersWith(
    observeNatsHandlers(
      app.get<PinoLogger>(SCHEDULER_LOGGER),
      app.get<SchedulerTransportMetrics>(SCHEDULER_TRANSPORT_METRICS).natsHandlers,
      config.nats.subjectPrefix,
    ),
  );
  app.connectMicroservice({ strategy: nats }, { inheritAppConfig: true });
  app.enableShutdownHooks();
  await app.init();
  await app.startAllMicroservices();
  const logger = new Logger('Scheduler');
  logger.log(`scheduler ${config.instanceId} running on NATS ${config.nats.servers.join(',')} (prefix ${config.nats.subjectPrefix})`);
  if (config.ops.port !== undefined) {
    await app.listen(config.ops.port, config.ops.host);
    logger.log(`metrics, health and readiness on ${await app.getUrl()}/metrics, /health, /ready`);
  }
  return app;
}
