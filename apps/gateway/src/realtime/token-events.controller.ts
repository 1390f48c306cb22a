import { Get, Param, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { TokenView } from '@waitpoints/contracts';
import { AuthenticatedRequest } from '../auth/auth.guards';
import { TokenRouteDocs } from '../openapi/route-docs';
import { ApiError } from '../http/api-error';
import { TokenIdPipe } from '../tokens/token-id.pipe';
import { TokenLinks } from '../tokens/token-links';
import { TokenApiController } from '../tokens/token-request';
import { toRetrievedToken } from '../tokens/token.presenter';
import { TokenServiceClient } from '../transport/token-service.client';
import { SseConnections, SseMessage } from './sse';
import { TokenEventFeed } from './token-event-feed';
import { TokenFollower, isFinished } from './token-follower';
import { TokenReaderGuard } from './token-reader.guard';

/** How long a request waits for the gateway's JetStream feed before answering 503. */
const FEED_WAIT_MS = 5000;

/**
 * `GET /api/v1/waitpoints/tokens/:id/events`: a token's state as Server-Sent Events.
 *
 * Each `token` event carries the token exactly as a retrieve would return it, with the
 * token's version as the event id; the first one is the current state. When the token is
 * finished an `end` event follows and the stream closes. A reconnect with `Last-Event-ID`
 * sends only what is newer than that version (and `204` when there is nothing more to come,
 * which stops a browser's EventSource from reconnecting again).
 */
@TokenApiController()
export class TokenEventsController {
  constructor(
    private readonly tokenService: TokenServiceClient,
    private readonly feed: TokenEventFeed,
    private readonly connections: SseConnections,
    private readonly links: TokenLinks,
  ) {}

  @Get(':id/events')
  @TokenRouteDocs.events()
  @UseGuards(TokenReaderGuard)
  async events(@Req() request: AuthenticatedRequest, @Param('id', TokenIdPipe) tokenId: string, @Res() response: Response): Promise<void> {
    const lastSeen = lastEventIdOf(request);
    if (!(await this.feed.whenLive(FEED_WAIT_MS))) {
      throw ApiError.unavailable('Realtime token events are unavailable: the gateway is not following JetStream yet; try again shortly');
    }
    const { environment } = request.auth;
    const follower = new TokenFollower(
      this.feed,
      tokenId,
      () => this.tokenService.getToken({ environment, tokenId }),
      // Opened right after this gateway created the token: its state is the create's answer.
      () => this.feed.createdView(environment, tokenId),
    );
    const current = await follower.open();
    if (isFinished(current) && lastSeen >= current.version) {
      follower.close();
      response.status(204).end();
      return;
    }

    const stream = this.connections.open(response);
    stream.onClose(() => follower.close());
    // Signed once per stream: the callback URL never changes, and every event carries it.
    const callbackUrl = this.links.callbackUrl(current.id);
    const tokenEvent = (view: TokenView) => this.tokenEvent(view, callbackUrl);
    // The client already holds exactly this version after a reconnect; anything else is news.
    const news = current.version !== lastSeen ? [tokenEvent(current)] : [];
    if (isFinished(current)) return stream.end(...news, endEvent(current));
    stream.send(...news);
    follower.follow({
      // The last state and the `end` event leave in one write, with the end of the response.
      changed: (view) => (isFinished(view) ? stream.end(tokenEvent(view), endEvent(view)) : stream.send(tokenEvent(view))),
      failed: (error) => {
        stream.comment(`could not read the token again (${(error as Error).message ?? error}); reconnect to resume`);
        stream.end();
      },
    });
  }

  private tokenEvent(view: TokenView, callbackUrl: string): SseMessage {
    const token = toRetrievedToken(view, { url: callbackUrl, triggerSdk: false });
    return { id: String(view.version), event: 'token', data: JSON.stringify(token) };
  }
}

/** The last event of a finished token's stream. */
const endEvent = (view: TokenView): SseMessage => ({ event: 'end', data: JSON.stringify({ status: view.status }) });

/** `Last-Event-ID` (what EventSource sends on reconnect), or `?lastEventId=` for hand-made clients. */
function lastEventIdOf(request: Request): number {
  const header = request.headers['last-event-id'];
  const query = request.query.lastEventId;
  const raw = typeof header === 'string' && header.trim() !== '' ? header : typeof query === 'string' ? query : undefined;
  if (raw === undefined || raw.trim() === '') return 0;
  const version = Number(raw.trim());
  if (!Number.isSafeInteger(version) || version < 0) {
    throw ApiError.badRequest(`Last-Event-ID "${raw.slice(0, 40)}" is not an event id of this stream (a token version: 1, 2, …)`);
  }
  return version;
}
