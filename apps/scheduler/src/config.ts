import { Env, EnvReader, NatsConfig, readNatsConfig } from '@waitpoints/contracts';

export interface SchedulerConfig {
  nats: NatsConfig;
}

export function loadSchedulerConfig(env: Env = process.env): SchedulerConfig {
  const read = new EnvReader(env);
  const config: SchedulerConfig = { nats: readNatsConfig(read) };
  read.done();
  return config;
}
