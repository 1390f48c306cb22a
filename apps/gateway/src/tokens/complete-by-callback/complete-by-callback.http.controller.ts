import { Body, Param, PipeTransform, Req } from '@nestjs/common';
import type { Request } from 'express';
import { JSON_OUTPUT_TYPE } from '@waitpoints/contracts';
import { CallbackUrlGuard } from '../../auth/callback-url.guard';
import { ApiError } from '../../http/api-error';
import { correlationIdOf } from '../../http/correlation-id';
import { TokenRouteDocs } from '../../openapi/route-docs';
import { TokenServiceClient } from '../../transport/token-service.client';
import { TokenIdPipe } from '../token-id.pipe';
import { outputProblem, toOutputText } from '../token-output';
import { TokenApiController, TokenPost } from '../token-request';

/**
 * The whole body is the output, any JSON value; an empty or unparsable body has already become
 * `{}` (the callback's lenient parser, see app.ts). What remains to check is what any output
 * must satisfy.
 */
const callbackOutput: PipeTransform<unknown, string> = {
  transform(body) {
    const problem = outputProblem(body);
    if (problem) throw ApiError.badRequest(problem);
    return toOutputText(body);
  },
};

/** `POST <token url>`: completes the token through its callback URL, as webhooks do. */
@TokenApiController()
export class CompleteByCallbackHttpController {
  constructor(private readonly tokenService: TokenServiceClient) {}

  @TokenPost(':id/callback/:hash', TokenRouteDocs.callback(), CallbackUrlGuard)
  async callback(@Req() request: Request, @Param('id', TokenIdPipe) tokenId: string, @Body(callbackOutput) output: string) {
    await this.tokenService.completeToken({
      tokenId,
      output,
      outputType: JSON_OUTPUT_TYPE,
      channel: 'callback',
      metadata: { correlationId: correlationIdOf(request), actor: { type: 'callback' } },
    });
    return { success: true as const };
  }
}
