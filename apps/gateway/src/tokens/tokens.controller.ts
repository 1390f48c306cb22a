import { ArgumentMetadata, Body, Controller, Get, HttpCode, Param, PipeTransform, Post, Query, Req, Res, UseGuards, ValidationPipe } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  DEFAULT_IDEMPOTENCY_KEY_TTL,
  DEFAULT_TIMEOUT,
  JSON_OUTPUT_TYPE,
  MessageMetadata,
  isInternalTokenId,
  parseDuration,
  parseTimeout,
  toInternalTokenId,
} from '@waitpoints/contracts';
import { AuthenticatedRequest, SecretKeyGuard, SecretKeyOrPublicTokenGuard } from '../auth/auth.guards';
import { CallbackSignature } from '../auth/callback-signature';
import { PublicAccessTokens } from '../auth/public-access-token';
import { ApiError } from '../http/api-error';
import { RateLimits } from '../http/rate-limits';
import { unstorableText } from '../http/storable-text';
import { correlationIdOf } from '../http/correlation-id';
import { TokenRouteDocs } from '../openapi/route-docs';
import { TokenServiceClient } from '../transport/token-service.client';
import { CreateTokenBody } from './create-token.dto';
import { parseListQuery } from './list-query';
import { TokenLinks } from './token-links';
import { statusesShownAs, toListItem, toRetrievedToken } from './token.presenter';

const CREATE_FIELDS = ['idempotencyKey', 'idempotencyKeyTTL', 'timeout', 'tags', 'heartbeatTimeout'];

const createBodyValidation = new ValidationPipe({
  transform: true,
  whitelist: true,
  forbidNonWhitelisted: true,
  exceptionFactory: (errors) =>
    ApiError.badRequest(
      errors
        .flatMap((error) =>
          error.constraints?.whitelistValidation
            ? [`unknown field "${error.property}"; accepted fields: ${CREATE_FIELDS.join(', ')}`]
            : Object.values(error.constraints ?? {}),
        )
        .join('; '),
    ),
});

/**
 * Unknown keys are refused on the raw body, before class-transformer builds the DTO: it drops
 * keys such as `__proto__` and `constructor` silently, so the whitelist would never see them.
 */
const createBodyPipe: PipeTransform = {
  transform(value: unknown, metadata: ArgumentMetadata) {
    if (value !== null && typeof value === 'object') {
      const unknown = Object.keys(value).find((key) => !CREATE_FIELDS.includes(key));
      if (unknown !== undefined) {
        throw ApiError.badRequest(`unknown field "${unknown.slice(0, 100)}"; accepted fields: ${CREATE_FIELDS.join(', ')}`);
      }
    }
    return createBodyValidation.transform(value, metadata);
  },
};

/**
 * The waitpoint token REST API (Trigger.dev wire format). Thin adapter: HTTP → command or
 * query over NATS → wire shape. Body limits and parsing are set up in `app.ts`.
 */
@Controller('api/v1/waitpoints/tokens')
@TokenRouteDocs.controller()
export class TokensController {
  constructor(
    private readonly tokenService: TokenServiceClient,
    private readonly links: TokenLinks,
    private readonly publicTokens: PublicAccessTokens,
    private readonly callbackSignature: CallbackSignature,
    private readonly limits: RateLimits,
  ) {}

  @Post()
  @HttpCode(200)
  @UseGuards(SecretKeyGuard)
  @TokenRouteDocs.create()
  async create(
    @Req() request: AuthenticatedRequest,
    @Body(createBodyPipe) body: CreateTokenBody,
    @Res({ passthrough: true }) response: Response,
  ) {
    const { environment } = request.auth;
    const timeout = parseTimeout(body.timeout ?? DEFAULT_TIMEOUT, new Date());
    if (!timeout.ok) throw ApiError.badRequest(timeout.message);
    const requestKey = singleHeader(request, 'x-trigger-request-idempotency-key');
    const { token, isCached } = await this.tokenService.createToken({
      environment,
      idempotencyKey: body.idempotencyKey,
      idempotencyKeyTTLMs: parseDuration(body.idempotencyKeyTTL ?? DEFAULT_IDEMPOTENCY_KEY_TTL)!,
      timeout: timeout.value,
      tags: body.tags === undefined ? [] : typeof body.tags === 'string' ? [body.tags] : body.tags,
      requestIdempotencyKey: requestKey && requestKey.length <= 256 ? requestKey : undefined,
      heartbeatTimeoutMs: body.heartbeatTimeout === undefined ? undefined : parseDuration(body.heartbeatTimeout),
      metadata: this.metadata(request),
    });
    response.setHeader('x-trigger-jwt', this.publicTokens.issueForToken(environment, token.id));
    response.setHeader('x-trigger-jwt-claims', JSON.stringify({ sub: environment, pub: true }));
    return { id: this.links.friendlyId(token.id), isCached, url: this.links.callbackUrl(token.id) };
  }

  @Get()
  @UseGuards(SecretKeyGuard)
  @TokenRouteDocs.list()
  async list(@Req() request: AuthenticatedRequest, @Query() rawQuery: Record<string, unknown>) {
    const parsed = parseListQuery(rawQuery, new Date());
    if (!parsed.ok) throw ApiError.badRequest(parsed.message);
    const triggerSdk = isTriggerSdk(request);
    const query = { ...parsed.value, environment: request.auth.environment };
    // The SDK is shown cancelled tokens as TIMED_OUT and rejected ones as COMPLETED (see
    // token.presenter), so its filters must find them too: a list agrees with the statuses it displays.
    if (query.statuses) query.statuses = statusesShownAs(query.statuses, triggerSdk);
    const page = await this.tokenService.listTokens(query);
    const pagination: { next?: string; previous?: string } = {};
    if (page.next !== undefined) pagination.next = page.next;
    if (page.previous !== undefined) pagination.previous = page.previous;
    return {
      data: page.tokens.map((token) => toListItem(token, { url: this.links.callbackUrl(token.id), triggerSdk })),
      pagination,
    };
  }

  @Get(':id')
  @UseGuards(SecretKeyGuard)
  @TokenRouteDocs.retrieve()
  async retrieve(@Req() request: AuthenticatedRequest, @Param('id') id: string) {
    const token = await this.tokenService.getToken({ environment: request.auth.environment, tokenId: tokenIdParam(id) });
    return toRetrievedToken(token, { url: this.links.callbackUrl(token.id), triggerSdk: isTriggerSdk(request) });
  }

  @Post(':id/complete')
  @HttpCode(200)
  @UseGuards(SecretKeyOrPublicTokenGuard)
  @TokenRouteDocs.complete()
  async complete(@Req() request: AuthenticatedRequest, @Param('id') id: string, @Body() body: Record<string, unknown>) {
    const unknown = Object.keys(body).filter((key) => key !== 'data');
    if (unknown.length > 0) {
      throw ApiError.badRequest(
        `unknown field "${unknown[0]}": send the output as {"data": <any JSON>}`,
      );
    }
    await this.tokenService.completeToken({
      environment: request.auth.environment,
      tokenId: tokenIdParam(id),
      output: body.data === undefined ? undefined : serializeOutput(body.data),
      outputType: JSON_OUTPUT_TYPE,
      channel: request.auth.actor.type === 'public_token' ? 'public_token' : 'api',
      metadata: this.metadata(request),
    });
    return { success: true as const };
  }

  /** Our extension: ends a waiting token as CANCELLED; waiters get an error. */
  @Post(':id/cancel')
  @HttpCode(200)
  @UseGuards(SecretKeyGuard)
  @TokenRouteDocs.cancel()
  async cancel(@Req() request: AuthenticatedRequest, @Param('id') id: string, @Body() body: Record<string, unknown>) {
    const unknown = Object.keys(body).filter((key) => key !== 'reason');
    if (unknown.length > 0) throw ApiError.badRequest(`unknown field "${unknown[0]}"; accepted fields: reason`);
    if (body.reason !== undefined && (typeof body.reason !== 'string' || body.reason.length > 1000)) {
      throw ApiError.badRequest('reason must be a string of at most 1000 characters');
    }
    if (typeof body.reason === 'string' && unstorableText(body.reason)) {
      throw ApiError.badRequest(`reason ${unstorableText(body.reason)}`);
    }
    const result = await this.tokenService.cancelToken({
      environment: request.auth.environment,
      tokenId: tokenIdParam(id),
      reason: body.reason as string | undefined,
      metadata: this.metadata(request),
    });
    return { success: true as const, status: result.status };
  }

  /** The token's `url`: no API key; the HMAC in the path is the credential. */
  @Post(':id/callback/:hash')
  @HttpCode(200)
  @TokenRouteDocs.callback()
  async callback(
    @Req() request: Request,
    @Param('id') id: string,
    @Param('hash') hash: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) response: Response,
  ) {
    const tokenId = toInternalTokenId(id);
    if (!isInternalTokenId(tokenId) || !this.callbackSignature.verify(tokenId, hash)) {
      throw ApiError.unauthorized("Invalid callback URL: the hash doesn't match this token");
    }
    await this.limits.admitTokenCompletion(tokenId, response);
    await this.tokenService.completeToken({
      tokenId,
      output: serializeOutput(body),
      outputType: JSON_OUTPUT_TYPE,
      channel: 'callback',
      metadata: { correlationId: correlationIdOf(request), actor: { type: 'callback' } },
    });
    return { success: true as const };
  }

  private metadata(request: AuthenticatedRequest): MessageMetadata {
    return { correlationId: correlationIdOf(request), actor: request.auth.actor };
  }
}

/** Ids come with or without `waitpoint_`; anything that cannot be one of ours is simply not found. */
export function tokenIdParam(raw: string): string {
  const id = toInternalTokenId(raw);
  if (!isInternalTokenId(id)) throw ApiError.notFound(`Waitpoint token ${raw.slice(0, 100)} not found`);
  return id;
}

function serializeOutput(data: unknown): string {
  try {
    return JSON.stringify(data);
  } catch {
    throw ApiError.badRequest('data is nested too deeply to store');
  }
}

function singleHeader(request: Request, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function isTriggerSdk(request: Request): boolean {
  return request.headers['x-trigger-api-version'] !== undefined || request.headers['trigger-version'] !== undefined;
}
