import {
  DynamicModule,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TokenServiceConfig } from './config';
import { CLOCK, Clock, systemClock, TOKEN_IDS, TokenIdGenerator, ulidTokenIds } from './commands/clock';
import { COMMAND_BATCHING, TokenCommandHandler } from './commands/token-command-handler';
import { openDatabase } from './event-store/database';
import { EventStore } from './event-store/event-store';
import { TokenMessagesController } from './messaging/token-messages.controller';
import { JetStreamPublisher } from './outbox/jetstream-publisher';
import { OutboxRelay } from './outbox/outbox-relay';
import { TokenProjection } from './projections/token-projection';
import { TokenQueries } from './projections/token-queries';
import { TokenReadService } from './projections/token-read.service';

export const TOKEN_SERVICE_CONFIG = Symbol('TokenServiceConfig');

export interface TokenServiceOverrides {
  clock?: Clock;
  tokenIds?: TokenIdGenerator;
}

/** Starts the outbox after the app is up and stops it before the database closes. */
@Injectable()
class TokenServiceLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly publisher: JetStreamPublisher,
    private readonly relay: OutboxRelay,
    @Inject(DataSource) private readonly db: DataSource,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.publisher.connect();
    this.relay.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.relay.stop();
    await this.publisher.close();
    if (this.db.isInitialized) await this.db.destroy();
  }
}

@Module({})
export class TokenServiceModule {
  static register(config: TokenServiceConfig, overrides: TokenServiceOverrides = {}): DynamicModule {
    return {
      module: TokenServiceModule,
      controllers: [TokenMessagesController],
      providers: [
        { provide: TOKEN_SERVICE_CONFIG, useValue: config },
        { provide: CLOCK, useValue: overrides.clock ?? systemClock },
        { provide: TOKEN_IDS, useValue: overrides.tokenIds ?? ulidTokenIds() },
        {
          provide: COMMAND_BATCHING,
          useValue: { maxBatchSize: config.commandBatchSize, maxInFlight: config.commandBatchesInFlight },
        },
        {
          provide: DataSource,
          useFactory: () => openDatabase({ url: config.databaseUrl, poolSize: config.databasePoolSize }),
        },
        { provide: EventStore, useValue: new EventStore() },
        { provide: TokenProjection, useValue: new TokenProjection() },
        { provide: TokenQueries, useValue: new TokenQueries() },
        {
          provide: JetStreamPublisher,
          useValue: new JetStreamPublisher({
            servers: config.nats.servers,
            subjectPrefix: config.nats.subjectPrefix,
            replicas: config.jetStreamReplicas,
            duplicateWindowMs: config.jetStreamDuplicateWindowMs,
          }),
        },
        {
          provide: OutboxRelay,
          inject: [JetStreamPublisher],
          useFactory: (publisher: JetStreamPublisher) =>
            new OutboxRelay(
              {
                databaseUrl: config.databaseUrl,
                subscriberId: `jetstream:${config.nats.subjectPrefix}`,
                batchSize: config.outboxBatchSize,
                pollIntervalMs: config.outboxPollIntervalMs,
              },
              publisher,
            ),
        },
        TokenCommandHandler,
        TokenReadService,
        TokenServiceLifecycle,
      ],
      exports: [TokenCommandHandler, TokenReadService, OutboxRelay, DataSource],
    };
  }
}
