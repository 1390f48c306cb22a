import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { RpcReply, SchedulerQuerySubjects, rpcOk } from '@waitpoints/contracts';
import { SchedulerMetrics } from '../metrics';

/** Subjects the scheduler answers (queue group `scheduler`: one instance answers each request). */
export { SchedulerQuerySubjects };

@Controller()
export class SchedulerMessagesController {
  constructor(private readonly metrics: SchedulerMetrics) {}

  @MessagePattern(SchedulerQuerySubjects.metrics)
  async prometheusText(): Promise<RpcReply<string>> {
    return rpcOk(await this.metrics.registry.metrics());
  }
}
