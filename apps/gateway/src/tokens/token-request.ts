import { CanActivate, Controller, HttpCode, Post, Type, UseGuards, applyDecorators } from '@nestjs/common';
import type { Request } from 'express';
import { MessageMetadata } from '@waitpoints/contracts';
import type { AuthenticatedRequest } from '../auth/auth.guards';
import { correlationIdOf } from '../http/correlation-id';
import { TokenRouteDocs } from '../openapi/route-docs';

/** What every command records about the request that sent it: its correlation id and who asked. */
export function requestMetadata(request: AuthenticatedRequest): MessageMetadata {
  return { correlationId: correlationIdOf(request), actor: request.auth.actor };
}

/** The caller is Trigger.dev's SDK: it sends its API version with every request (see token.presenter). */
export function isTriggerSdk(request: Request): boolean {
  return request.headers['x-trigger-api-version'] !== undefined || request.headers['trigger-version'] !== undefined;
}

/** A controller of the token API: its base path, and its routes grouped under one tag in the API description. */
export function TokenApiController() {
  return applyDecorators(Controller('api/v1/waitpoints/tokens'), TokenRouteDocs.controller());
}

/**
 * A POST route of the token API: it answers 200, as Trigger.dev does (Nest's default is 201),
 * behind its credential check, documented in the API description.
 */
export function TokenPost(path: string, docs: MethodDecorator, ...guards: Type<CanActivate>[]) {
  return applyDecorators(Post(path), HttpCode(200), ...(guards.length > 0 ? [UseGuards(...guards)] : []), docs);
}
