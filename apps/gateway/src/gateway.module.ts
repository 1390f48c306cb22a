import { DynamicModule, Module } from '@nestjs/common';
import { PrefixedNatsClient } from '@waitpoints/contracts/nats/prefixed-transport';
import { ApiKeyRegistry } from './auth/api-keys';
import { SecretKeyGuard, SecretKeyOrPublicTokenGuard } from './auth/auth.guards';
import { CallbackSignature } from './auth/callback-signature';
import { PublicAccessTokens } from './auth/public-access-token';
import { GatewayConfig } from './config';
import { RateLimits } from './http/rate-limits';
import { TokenLinks } from './tokens/token-links';
import { TokensController } from './tokens/tokens.controller';
import {
  NATS_REQUEST_TIMEOUT_MS,
  NATS_SUBJECT_PREFIX,
  TOKEN_SERVICE_TRANSPORT,
  TokenServiceClient,
} from './transport/token-service.client';

export const GATEWAY_CONFIG = Symbol('GatewayConfig');

@Module({})
export class GatewayModule {
  static register(config: GatewayConfig): DynamicModule {
    const apiKeys = new ApiKeyRegistry(config.apiKeys);
    const callbackSignature = new CallbackSignature(config.signingSecrets);
    return {
      module: GatewayModule,
      controllers: [TokensController],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: ApiKeyRegistry, useValue: apiKeys },
        { provide: CallbackSignature, useValue: callbackSignature },
        {
          provide: PublicAccessTokens,
          useValue: new PublicAccessTokens(config.signingSecrets, (env) => apiKeys.keysOf(env)),
        },
        { provide: RateLimits, useValue: new RateLimits(config.rateLimit, config.callbackRateLimit) },
        { provide: TokenLinks, useValue: new TokenLinks(config.publicUrl, callbackSignature) },
        {
          provide: TOKEN_SERVICE_TRANSPORT,
          useFactory: () =>
            new PrefixedNatsClient(config.nats.subjectPrefix, {
              servers: config.nats.servers,
              name: 'waitpoints-gateway',
              maxReconnectAttempts: -1,
              reconnectTimeWait: 500,
              timeout: Math.min(config.nats.requestTimeoutMs, 2000),
            }, config.nats.requestTimeoutMs + 1000),
        },
        { provide: NATS_REQUEST_TIMEOUT_MS, useValue: config.nats.requestTimeoutMs },
        { provide: NATS_SUBJECT_PREFIX, useValue: config.nats.subjectPrefix },
        TokenServiceClient,
        SecretKeyGuard,
        SecretKeyOrPublicTokenGuard,
      ],
    };
  }
}
