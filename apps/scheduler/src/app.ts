import { INestMicroservice, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PrefixedNatsServer } from '@waitpoints/contracts/nats/prefixed-transport';
import { SchedulerConfig } from './config';
import { SchedulerModule, SchedulerOverrides } from './scheduler.module';

export async function createScheduler(
  config: SchedulerConfig,
  overrides: SchedulerOverrides = {},
): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice(SchedulerModule.register(config, overrides), {
    strategy: new PrefixedNatsServer(config.nats.subjectPrefix, {
      servers: config.nats.servers,
      queue: 'scheduler',
      name: 'waitpoints-scheduler',
      maxReconnectAttempts: -1,
      // NATS that is not up yet (or restarting) is waited for, like the database.
      waitOnFirstConnect: true,
    }),
    logger: process.env.LOG_LEVEL === 'silent' ? false : undefined,
  });
  app.enableShutdownHooks();
  await app.listen();
  new Logger('Scheduler').log(
    `scheduler ${config.instanceId} running on NATS ${config.nats.servers.join(',')} (prefix ${config.nats.subjectPrefix})`,
  );
  return app;
}
