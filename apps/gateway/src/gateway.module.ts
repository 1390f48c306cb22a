import { BeforeApplicationShutdown, DynamicModule, Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import { ClientProxy } from '@nestjs/microservices';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import type { NatsConnection } from 'nats';
import type { Logger as PinoLogger } from 'pino';
import { natsReachable, OPS_OPTIONS, OpsController, OpsOptions } from '@waitpoints/platform';
import { PrefixedNatsClient } from '@waitpoints/contracts/nats/prefixed-transport';
import { ApiKeyRegistry } from './auth/api-keys';
import { SecretKeyGuard, SecretKeyOrPublicTokenGuard } from './auth/auth.guards';
import { CallbackUrlGuard } from './auth/callback-url.guard';
import { CallbackSignature } from './auth/callback-signature';
import { ApprovalSignature } from './auth/approval-signature';
import { PublicAccessTokens } from './auth/public-access-token';
import { GatewayConfig } from './config';
import { dashboardControllers, dashboardProviders } from './dashboard/dashboard.providers';
import { GatewayMetrics } from './ops/gateway-metrics';
import { SseConnections } from './realtime/sse';
import { TokenEventFeed } from './realtime/token-event-feed';
import { TokenEventsController } from './realtime/token-events.controller';
import { TokenReaderGuard } from './realtime/token-reader.guard';
import { RateLimits } from './http/rate-limits';
import { TokenLinks } from './tokens/token-links';
import { tokenControllers } from './tokens/token-controllers';
import {
  NATS_REQUEST_BATCH_SIZE,
  JETSTREAM_REPLICAS,
  NATS_REQUEST_TIMEOUT_MS,
  NATS_SUBJECT_PREFIX,
  TOKEN_SERVICE_TRANSPORT,
  TokenServiceClient,
} from './transport/token-service.client';

export const GATEWAY_CONFIG = Symbol('GatewayConfig');

/** Follows JetStream from the start; at shutdown ends the event streams first, or the HTTP server would wait on them. */
@Injectable()
class RealtimeLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly feed: TokenEventFeed,
    private readonly connections: SseConnections,
  ) {}

  onApplicationBootstrap(): void {
    this.feed.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.connections.closeAll();
    await this.feed.stop();
  }
}

@Module({})
export class GatewayModule {
  /** `logger` and `metrics` are made in app.ts: its Express middleware uses them before Nest's. */
  static register(config: GatewayConfig, logger: PinoLogger, metrics: GatewayMetrics): DynamicModule {
    const apiKeys = new ApiKeyRegistry(config.apiKeys);
    const callbackSignature = new CallbackSignature(config.signingSecrets);
    const approvalSignature = new ApprovalSignature(config.signingSecrets);
    return {
      module: GatewayModule,
      imports: [
        // Requests are logged by the middleware app.ts installs first (http/request-logging.ts), which
        // sets req.log; Nest's Logger writes through it (useExisting: no pino-http middleware of its own).
        // No per-request middleware of nestjs-pino's (forRoutes: []): the correlation context
        // middleware (http/correlation-id.ts) already gives each request its logger.
        LoggerModule.forRoot({ pinoHttp: { logger }, useExisting: true, forRoutes: [] }),
        TerminusModule.forRoot({ errorLogStyle: 'json' }),
      ],
      controllers: [...tokenControllers, TokenEventsController, OpsController, ...dashboardControllers],
      providers: [
        { provide: GatewayMetrics, useValue: metrics },
        {
          provide: OPS_OPTIONS,
          inject: [TOKEN_SERVICE_TRANSPORT],
          useFactory: (transport: ClientProxy): OpsOptions => ({
            registries: () => [metrics.registry],
            // The gateway owns no tables: it is ready when it can reach NATS.
            readiness: [natsReachable('nats', () => transport.connect() as Promise<NatsConnection>)],
          }),
        },
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: ApiKeyRegistry, useValue: apiKeys },
        { provide: CallbackSignature, useValue: callbackSignature },
        {
          provide: PublicAccessTokens,
          useValue: new PublicAccessTokens(config.signingSecrets, (env) => apiKeys.keysOf(env)),
        },
        { provide: RateLimits, useValue: new RateLimits(config.rateLimit, config.callbackRateLimit) },
        { provide: ApprovalSignature, useValue: approvalSignature },
        { provide: TokenLinks, useValue: new TokenLinks(config.publicUrl, callbackSignature, approvalSignature) },
        {
          provide: TOKEN_SERVICE_TRANSPORT,
          useFactory: () =>
            new PrefixedNatsClient(
              config.nats.subjectPrefix,
              {
                servers: config.nats.servers,
                name: 'waitpoints-gateway',
                maxReconnectAttempts: -1,
                reconnectTimeWait: 500,
                // Capturing a stack per request (for a nicer timeout error) cost more CPU than the request.
                noAsyncTraces: true,
                timeout: Math.min(config.nats.requestTimeoutMs, 2000),
              },
              config.nats.requestTimeoutMs + 1000,
            ),
        },
        { provide: NATS_REQUEST_TIMEOUT_MS, useValue: config.nats.requestTimeoutMs },
        { provide: NATS_SUBJECT_PREFIX, useValue: config.nats.subjectPrefix },
        { provide: NATS_REQUEST_BATCH_SIZE, useValue: config.natsRequestBatchSize },
        { provide: JETSTREAM_REPLICAS, useValue: config.jetStreamReplicas },
        TokenServiceClient,
        SecretKeyGuard,
        SecretKeyOrPublicTokenGuard,
        CallbackUrlGuard,
        ...dashboardProviders(config, apiKeys),
        {
          provide: TokenEventFeed,
          useValue: new TokenEventFeed({ servers: config.nats.servers, subjectPrefix: config.nats.subjectPrefix }),
        },
        { provide: SseConnections, useValue: new SseConnections(config.realtimeHeartbeatMs) },
        TokenReaderGuard,
        RealtimeLifecycle,
      ],
    };
  }
}
