import { Get, PipeTransform, Query, Req, UseGuards } from '@nestjs/common';
import { AuthenticatedRequest, SecretKeyGuard } from '../../auth/auth.guards';
import { ApiError } from '../../http/api-error';
import { TokenRouteDocs } from '../../openapi/route-docs';
import { TokenServiceClient } from '../../transport/token-service.client';
import { TokenLinks } from '../token-links';
import { statusesShownAs, toListItem } from '../token.presenter';
import { TokenApiController, isTriggerSdk } from '../token-request';
import { ListTokensFilter, parseListQuery } from './list-tokens.request.dto';

/** The query string → the list query, or a 400 naming every bad parameter. */
const listTokensQuery: PipeTransform<Record<string, unknown>, ListTokensFilter> = {
  transform(raw) {
    const parsed = parseListQuery(raw, new Date());
    if (!parsed.ok) throw ApiError.badRequest(parsed.message);
    return parsed.value;
  },
};

/** `GET /api/v1/waitpoints/tokens`: one page of the environment's tokens, newest first. */
@TokenApiController()
export class ListTokensHttpController {
  constructor(
    private readonly tokenService: TokenServiceClient,
    private readonly links: TokenLinks,
  ) {}

  @Get()
  @UseGuards(SecretKeyGuard)
  @TokenRouteDocs.list()
  async list(@Req() request: AuthenticatedRequest, @Query(listTokensQuery) filter: ListTokensFilter) {
    const triggerSdk = isTriggerSdk(request);
    const query = { ...filter, environment: request.auth.environment };
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
}
