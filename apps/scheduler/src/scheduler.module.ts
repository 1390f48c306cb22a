import {
  DynamicModule,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PrefixedNatsClient } from '@waitpoints/contracts/nats/prefixed-transport';
import { Clock, DatabaseClock } from './clock';
import { SchedulerConfig } from './config';
import { openSchedulerDatabase } from './database/scheduler-database';
import { TimerStore } from './database/timer-store';
import { NatsTimeoutSender, TimeoutSender } from './firing/timeout-sender';
import { SchedulerMessagesController } from './messaging/scheduler-messages.controller';
import { SchedulerMetrics } from './metrics';
import { TimeoutScheduler } from './timeout-scheduler';

export const SCHEDULER_CONFIG = Symbol('SchedulerConfig');
const NATS_TIMEOUT_SENDER = Symbol('NatsTimeoutSender');
const TIMEOUT_SENDER = Symbol('TimeoutSender');
const CLOCK = Symbol('SchedulerClock');

export interface SchedulerOverrides {
  /** Replaces the database clock (tests move time with it). */
  clock?: Clock;
  /** Wraps or replaces the NATS sender (tests count or swallow timeouts with it). */
  sender?: (real: TimeoutSender) => TimeoutSender;
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
    return {
      module: SchedulerModule,
      controllers: [SchedulerMessagesController],
      providers: [
        { provide: SCHEDULER_CONFIG, useValue: config },
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
            return new NatsTimeoutSender(transport, config.nats.requestTimeoutMs, config.instanceId);
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
          useFactory: (store: TimerStore, clock: Clock, sender: TimeoutSender) =>
            new TimeoutScheduler(config, store, clock, sender),
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
