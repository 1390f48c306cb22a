import { DynamicModule, Module } from '@nestjs/common';
import { SchedulerConfig } from './config';

/**
 * Durable timeouts live here (see the scheduler issue). For now the service only joins NATS,
 * so the deployment shape (three apps) is in place from the start.
 */
@Module({})
export class SchedulerModule {
  static register(config: SchedulerConfig): DynamicModule {
    return { module: SchedulerModule, providers: [{ provide: 'SCHEDULER_CONFIG', useValue: config }] };
  }
}
