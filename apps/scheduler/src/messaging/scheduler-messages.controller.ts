import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { RpcReply, rpcOk } from '@waitpoints/contracts';
import { SchedulerMetrics } from '../metrics';

/** Subjects the scheduler answers (queue group `scheduler`: one instance answers each request). */
export const SchedulerQuerySubjects = {
  /** This instance's metrics in Prometheus text format (the ops endpoint can relay them). */
  metrics: 'qry.scheduler.metrics',
} as const;

@Controller()
export class SchedulerMessagesController {
  constructor(private readonly metrics: SchedulerMetrics) {}

  @MessagePattern(SchedulerQuerySubjects.metrics)
  async prometheusText(): Promise<RpcReply<string>> {
    return rpcOk(await this.metrics.registry.metrics());
  }
}
