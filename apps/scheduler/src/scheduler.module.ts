import { DynamicModule, Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import type { NatsConnection } from 'nats';
import type { DestinationStream } from 'pino';
import { DataSource } from 'typeorm';
import { PrefixedNatsClient, PrefixedNatsServer } from '@waitpoints/contracts/nats/prefixed-transport';
import {
  OPS_OPTIONS,
  OpsController,
  OpsOptions,
  createMetricsRegistry,
  createServiceLogger,
  databaseReachable,
  migrationsApplied,
  migrationsOf,
  natsHandlerDurations,
  natsReachable,
  natsRequestDurations,
  resolveLogLevel,
} from '@waitpoints/platform';
import { TokenCommandSubjects } from '@waitpoints/contracts';
import { Clock, DatabaseClock } from './clock';
import { SchedulerConfig } from './config';
import { openSchedulerDatabase } from './database/scheduler-database';
import { TimerStore } from './database/timer-store';
import { NatsTimeoutSender, TimeoutSender } from './firing/timeout-sender';
import { SchedulerMessagesController } from './messaging/scheduler-messages.controller';
import { SchedulerMetrics } from './metrics';
import { TimeoutScheduler } from './timeout-scheduler';

export const SCHEDULER_CONFIG = Symbol('SchedulerConfig');
/** The pino logger of this instance. */
export const SCHEDULER_LOGGER = Symbol('SchedulerLogger');
/** The NATS transport the scheduler's queries are answered on (app.ts connects it). */
export const SCHEDULER_NATS_SERVER = Symbol('SchedulerNatsServer');
/** Process and NATS metrics of this instance (the timer metrics are in SchedulerMetrics). */
export const SCHEDULER_TRANSPORT_METRICS = Symbol('SchedulerTransportMetrics');
const NATS_TIMEOUT_SENDER = Symbol('NatsTimeoutSender');
const TIMEOUT_SENDER = Symbol('TimeoutSender');
const CLOCK = Symbol('SchedulerClock');

export interface SchedulerOverrides {
  /** Replaces the database clock (tests move time with it). */
  clock?: Clock;
  /** Wraps or replaces the NATS sender (tests count or swallow timeouts with it). */
  sender?: (real: TimeoutSender) => TimeoutSender;
  /** Where the JSON logs go (tests capture them); stdout by default. */
  logDestination?: DestinationStream;
}

export type SchedulerTransportMetrics = ReturnType<typeof schedulerTransportMetrics>;

function schedulerTransportMetrics() {
  const registry = createMetricsRegistry();
  return { registry, natsRequests: natsRequestDurations(registry), natsHandlers: natsHandlerDurations(registry) };
}

@Injectable()
class SchedulerLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly scheduler: TimeoutScheduler,
    @Inject(NATS_TIMEOUT_SENDER) private readonly natsSender: NatsTimeoutSender,
    @Inject(DataSource) private readonly db: DataSource,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.scheduler.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.scheduler.stop();
    // The NATS sender is closed even when a test replaced or wrapped it.
    await this.natsSender.close();
    if (this.db.isInitialized) await this.db.destroy();
  }
}

@Module({})
export class SchedulerModule {
  static register(config: SchedulerConfig, overrides: SchedulerOverrides = {}): DynamicModule {
    const logger = createServiceLogger('scheduler', resolveLogLevel(config.logLevel), overrides.logDestination);
    const transportMetrics = schedulerTransportMetrics();
    const natsServer = new PrefixedNatsServer(config.nats.subjectPrefix, {
      servers: config.nats.servers,
      queue: 'scheduler',
      name: 'waitpoints-scheduler',
      maxReconnectAttempts: -1,
      // NATS that is not up yet (or restarting) is waited for, like the database.
      waitOnFirstConnect: true,
    });
    return {
      module: SchedulerModule,
      imports: [LoggerModule.forRoot({ pinoHttp: { logger, autoLogging: false } }), TerminusModule.forRoot({ errorLogStyle: 'json' })],
      controllers: [SchedulerMessagesController, OpsController],
      providers: [
        { provide: SCHEDULER_CONFIG, useValue: config },
        { provide: SCHEDULER_LOGGER, useValue: logger },
        { provide: SCHEDULER_NATS_SERVER, useValue: natsServer },
        { provide: SCHEDULER_TRANSPORT_METRICS, useValue: transportMetrics },
        {
          provide: OPS_OPTIONS,
          inject: [SchedulerMetrics, DataSource, TimeoutScheduler, NATS_TIMEOUT_SENDER],
          useFactory: (metrics: SchedulerMetrics, db: DataSource, scheduler: TimeoutScheduler, sender: NatsTimeoutSender): OpsOptions => ({
            registries: () => [transportMetrics.registry, metrics.registry],
            readiness: [
              databaseReachable('database', () => db),
              migrationsApplied(
                'migrations',
                () => db,
                () => migrationsOf(db),
              ),
              natsReachable('nats', () => natsServer.unwrap<NatsConnection>()),
              natsReachable('deadline_ingest', () => scheduler.ingest.natsConnection),
              natsReachable('timeout_sender', () => sender.connection()),
            ],
          }),
        },
        {
          provide: DataSource,
          useFactory: () => openSchedulerDatabase({ url: config.databaseUrl, poolSize: config.databasePoolSize }),
        },
        { provide: TimerStore, inject: [DataSource], useFactory: (db: DataSource) => new TimerStore(db) },
        {
          provide: CLOCK,
          inject: [DataSource],
          useFactory: (db: DataSource) => overrides.clock ?? new DatabaseClock(db),
        },
        {
          provide: NATS_TIMEOUT_SENDER,
          useFactory: () => {
            const transport = new PrefixedNatsClient(config.nats.subjectPrefix, {
              servers: config.nats.servers,
              name: 'waitpoints-scheduler-timeouts',
              maxReconnectAttempts: -1,
            });
            return new NatsTimeoutSender(transport, config.nats.requestTimeoutMs, config.instanceId, (outcome, seconds) =>
              transportMetrics.natsRequests.observe({ subject: TokenCommandSubjects.timeoutBatch, outcome }, seconds),
            );
          },
        },
        {
          provide: TIMEOUT_SENDER,
          inject: [NATS_TIMEOUT_SENDER],
          useFactory: (real: NatsTimeoutSender) => (overrides.sender ? overrides.sender(real) : real),
        },
        {
          provide: TimeoutScheduler,
          inject: [TimerStore, CLOCK, TIMEOUT_SENDER],
          useFactory: (store: TimerStore, clock: Clock, sender: TimeoutSender) => new TimeoutScheduler(config, store, clock, sender),
        },
        {
          provide: SchedulerMetrics,
          inject: [TimeoutScheduler],
          useFactory: (scheduler: TimeoutScheduler) => scheduler.metrics,
        },
        SchedulerLifecycle,
      ],
      exports: [TimeoutScheduler, SchedulerMetrics, TimerStore],
    };
  }
}
