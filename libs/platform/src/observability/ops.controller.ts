import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Registry } from 'prom-client';
import type { ReadinessCheck } from './health';

export const OPS_OPTIONS = Symbol('OpsOptions');

export interface OpsOptions {
  /** Registries merged into one Prometheus page (names must not repeat across them). */
  registries: () => Registry[];
  /** What must be reachable before the service takes traffic. */
  readiness: ReadinessCheck[];
}

/**
 * The operations endpoints of every service: `/health` (the process is alive: it answers),
 * `/ready` (it can do its work: terminus' report, 503 when a check is down), `/metrics`
 * (Prometheus text). The bodies are written here, so the gateway's `{error}` filter never
 * rewrites terminus' report.
 */
@ApiExcludeController()
@Controller()
export class OpsController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(OPS_OPTIONS) private readonly options: OpsOptions,
  ) {}

  @Get('health')
  liveness() {
    return this.health.check([]);
  }

  @Get('ready')
  async readiness(@Res() response: Response): Promise<void> {
    try {
      const report = await this.health.check(this.options.readiness.map((check) => () => check(this.indicators)));
      response.status(200).json(report);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      response.status(503).json(error.getResponse());
    }
  }

  @Get('metrics')
  async metrics(@Res() response: Response): Promise<void> {
    const registry = Registry.merge(this.options.registries());
    const text = await registry.metrics();
    response.status(200).setHeader('content-type', registry.contentType).send(text);
  }
}
