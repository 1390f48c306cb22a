import { INestMicroservice, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PrefixedNatsServer } from '@waitpoints/contracts/nats/prefixed-transport';
import { TokenServiceConfig } from './config';
import { TokenServiceModule, TokenServiceOverrides } from './token-service.module';

/** Queue group: several token-service instances share the command load. */
export const TOKEN_SERVICE_QUEUE = 'token-service';

export async function createTokenService(
  config: TokenServiceConfig,
  overrides: TokenServiceOverrides = {},
): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice(TokenServiceModule.register(config, overrides), {
    strategy: new PrefixedNatsServer(config.nats.subjectPrefix, {
      servers: config.nats.servers,
      queue: TOKEN_SERVICE_QUEUE,
      name: 'waitpoints-token-service',
      maxReconnectAttempts: -1,
      // NATS that is not up yet (or restarting) is waited for, like the database.
      waitOnFirstConnect: true,
    }),
    logger: process.env.LOG_LEVEL === 'silent' ? false : undefined,
  });
  app.enableShutdownHooks();
  await app.listen();
  new Logger('TokenService').log(
    `listening on NATS ${config.nats.servers.join(',')} (subjects ${config.nats.subjectPrefix}.cmd.token.*, ${config.nats.subjectPrefix}.qry.token.*)`,
  );
  return app;
}
