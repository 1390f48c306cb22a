import { DynamicModule, Inject, Injectable, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { PrefixedNatsServer } from '@waitpoints/contracts/nats/prefixed-transport';
import {
  OPS_OPTIONS,
  OpsController,
  OpsOptions,
  createServiceLogger,
  databaseReachable,
  migrationsApplied,
  natsReachable,
  resolveLogLevel,
} from '@waitpoints/platform';
import { retentionIsOff, shortestRetentionMs, TokenServiceConfig } from './config';
import { CLOCK, Clock, systemClock, TOKEN_IDS, TokenIdGenerator, ulidTokenIds } from './commands/clock';
import {
  COMMAND_BATCHING,
  COMMIT_LISTENER,
  CommitListener,
  REMEMBER_STREAMS_FOR_MS,
  TokenCommandHandler,
} from './commands/token-command-handler';
import { Database, knownMigrationNames, MIGRATIONS_TABLE, openDatabase } from './database/database';
import { TokenMessagesController } from './messaging/token-messages.controller';
import { JetStreamPublisher } from './outbox/jetstream-publisher';
import { OutboxRelay } from './outbox/outbox-relay';
import { StoredEventsReader } from './outbox/stored-events';
import { RequestKeyRetention } from './projections/request-key-retention';
import { TokenInsights } from './projections/token-insights';
import { TokenQueries } from './projections/token-queries';
import { TokenReadService } from './projections/token-read.service';
import { TokenServiceMetrics } from './ops/token-service-metrics';
import { FileSystemArchiveStore } from './retention/archive-store';
import { EventArchive } from './retention/event-archive';
import { TokenRetention } from './retention/token-retention';

export const TOKEN_SERVICE_CONFIG = Symbol('TokenServiceConfig');
/** The pino logger of this instance (NATS handlers log through children of it). */
export const TOKEN_SERVICE_LOGGER = Symbol('TokenServiceLogger');
/** The NATS transport the message handlers listen on (app.ts connects it; /ready pings it). */
export const TOKEN_SERVICE_NATS_SERVER = Symbol('TokenServiceNatsServer');

/** Queue group: several token-service instances share the command load. */
export const TOKEN_SERVICE_QUEUE = 'token-service';

export interface TokenServiceOverrides {
  clock?: Clock;
  tokenIds?: TokenIdGenerator;
  /** Where the JSON logs go (tests capture them); stdout by default. */
  logDestination?: DestinationStream;
}

/** Starts the outbox, request-key pruning and token retention after the app is up and stops them before the database closes. */
@Injectable()
class TokenServiceLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly retention?: RequestKeyRetention;
  private readonly tokenRetention?: TokenRetention;

  constructor(
    private readonly publisher: JetStreamPublisher,
    private readonly relay: OutboxRelay,
    private readonly db: Database,
    @Inject(TOKEN_SERVICE_CONFIG) config: TokenServiceConfig,
    @Inject(CLOCK) clock: Clock,
    metrics: TokenServiceMetrics,
  ) {
    if (config.requestKeyRetentionMs !== undefined) {
      this.retention = new RequestKeyRetention(db, { retentionMs: config.requestKeyRetentionMs });
    }
    if (retentionIsOff(config.tokenRetention)) {
      new Logger(TokenRetention.name).log('token retention is off (TOKEN_RETENTION=off): finished tokens are kept forever');
    } else {
      this.tokenRetention = new TokenRetention(db, {
        policy: config.tokenRetention,
        outboxSubscriberId: relay.subscriberId,
        batchSize: config.retentionBatchSize,
        intervalMs: config.retentionIntervalMs,
        maxRate: config.retentionMaxRate,
        archive: config.archiveDir === undefined ? undefined : new EventArchive(new FileSystemArchiveStore(config.archiveDir)),
        clock,
        metrics,
      });
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.publisher.connect();
    this.relay.start();
    this.retention?.start();
    this.tokenRetention?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.tokenRetention?.stop();
    await this.retention?.stop();
    await this.relay.stop();
    await this.publisher.close();
    await this.db.close().catch(() => undefined);
  }
}

function rememberStreamsFor(config: TokenServiceConfig): number | undefined {
  const shortest = shortestRetentionMs(config.tokenRetention);
  return shortest === undefined ? undefined : Math.floor(shortest / 2);
}

@Module({})
export class TokenServiceModule {
  static register(config: TokenServiceConfig, overrides: TokenServiceOverrides = {}): DynamicModule {
    const logger = createServiceLogger('token-service', resolveLogLevel(config.logLevel), overrides.logDestination);
    const natsServer = new PrefixedNatsServer(config.nats.subjectPrefix, {
      servers: config.nats.servers,
      queue: TOKEN_SERVICE_QUEUE,
      name: 'waitpoints-token-service',
      maxReconnectAttempts: -1,
      // NATS that is not up yet (or restarting) is waited for, like the database.
      waitOnFirstConnect: true,
      // A stack trace captured per request costs CPU on the hot path (measured in bench).
      noAsyncTraces: true,
    });
    return {
      module: TokenServiceModule,
      imports: [
        // The HTTP side only serves /metrics, /health and /ready: no request log for scrapes.
        LoggerModule.forRoot({ pinoHttp: { logger, autoLogging: false } }),
        TerminusModule.forRoot({ errorLogStyle: 'json' }),
      ],
      controllers: [TokenMessagesController, OpsController],
      providers: [
        { provide: TOKEN_SERVICE_CONFIG, useValue: config },
        { provide: TOKEN_SERVICE_LOGGER, useValue: logger },
        { provide: TOKEN_SERVICE_NATS_SERVER, useValue: natsServer },
        {
          provide: TokenServiceMetrics,
          inject: [Database, OutboxRelay],
          useFactory: (db: Database, outbox: OutboxRelay) => new TokenServiceMetrics({ db, outbox }),
        },
        {
          provide: OPS_OPTIONS,
          inject: [TokenServiceMetrics, Database, JetStreamPublisher],
          useFactory: (metrics: TokenServiceMetrics, db: Database, publisher: JetStreamPublisher): OpsOptions => ({
            registries: () => [metrics.registry],
            readiness: [
              databaseReachable('database', () => db),
              migrationsApplied(
                'migrations',
                () => db,
                () => ({ table: MIGRATIONS_TABLE, known: knownMigrationNames() }),
              ),
              natsReachable('nats', () => natsServer.unwrap<import('nats').NatsConnection>()),
              natsReachable('jetstream_publisher', () => publisher.natsConnection),
            ],
          }),
        },
        { provide: CLOCK, useValue: overrides.clock ?? systemClock },
        // Half the shortest token retention: a remembered state never outlives its token's events.
        { provide: REMEMBER_STREAMS_FOR_MS, useValue: rememberStreamsFor(config) },
        { provide: TOKEN_IDS, useValue: overrides.tokenIds ?? ulidTokenIds() },
        {
          provide: COMMAND_BATCHING,
          useValue: { maxBatchSize: config.commandBatchSize, maxInFlight: config.commandBatchesInFlight },
        },
        {
          provide: Database,
          useFactory: () =>
            openDatabase({
              url: config.databaseUrl,
              poolSize: config.databasePoolSize,
              readStatementTimeoutMs: config.readStatementTimeoutMs,
            }),
        },
        {
          // After every commit: the gateways hear of the events at once (core NATS), the outbox
          // publishes them to JetStream without waiting for its poll, the metrics count them.
          provide: COMMIT_LISTENER,
          inject: [JetStreamPublisher, OutboxRelay, TokenServiceMetrics],
          useFactory:
            (publisher: JetStreamPublisher, outbox: OutboxRelay, metrics: TokenServiceMetrics): CommitListener =>
            (stored, createdAtOf) => {
              // Before the reply: the announcements leave in its socket write.
              publisher.announce(stored, { wakeLeader: !outbox.isLeader });
              // After it: the commit's caller waits for the reply, not for the relay's outbox
              // read (woken here, it was sent to PostgreSQL ahead of the reply) nor the metrics.
              setImmediate(() => {
                outbox.wake();
                metrics.recordCommitted(stored, createdAtOf);
              });
            },
        },
        { provide: TokenQueries, useValue: new TokenQueries() },
        {
          provide: JetStreamPublisher,
          useFactory: () => {
            const publisher = new JetStreamPublisher({
              servers: config.nats.servers,
              subjectPrefix: config.nats.subjectPrefix,
              replicas: config.jetStreamReplicas,
              duplicateWindowMs: config.jetStreamDuplicateWindowMs,
              maxAgeMs: config.jetStreamMaxAgeMs,
              maxBytes: config.jetStreamMaxBytes,
            });
            // A commit's live announcements leave with the reply that follows it, in one write.
            natsServer.publishBeforeEachReply((connection) => publisher.sendAnnouncements(connection));
            return publisher;
          },
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
                gatherMs: config.outboxGatherMs,
                idlePollIntervalMs: config.outboxIdlePollIntervalMs,
                checkpointIntervalMs: config.outboxCheckpointIntervalMs,
              },
              publisher,
            ),
        },
        TokenCommandHandler,
        TokenReadService,
        TokenInsights,
        StoredEventsReader,
        TokenServiceLifecycle,
      ],
      exports: [TokenCommandHandler, TokenReadService, OutboxRelay, Database, TokenServiceMetrics],
    };
  }
}
