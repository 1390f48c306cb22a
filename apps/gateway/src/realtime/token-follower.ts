import { EventEnvelope, TokenView } from '@waitpoints/contracts';
import type { TokenEventFeed } from './token-event-feed';
import { evolveTokenView } from './token-view-evolution';

export const isFinished = (view: TokenView) => view.status !== 'WAITING';

export interface FollowerCallbacks {
  /** A newer state of the token (each version at most once, in order). */
  changed(view: TokenView): void;
  /** Following cannot go on (the token could not be read again); the caller ends the stream. */
  failed(error: unknown): void;
}

/**
 * Follows one token: current state first, then every change, none missed, none twice.
 *
 * The order is what makes it safe: `open()` subscribes to the feed *before* it reads the
 * token, so a change committed after the read is on its way through the feed, and a change
 * committed before it is in the state read. Events that arrive meanwhile are held, and every
 * event at or below the version already known is dropped. An event that does not follow the
 * known version directly (or carries only a reference to a large output) makes the follower
 * read the token again instead of guessing.
 */
export class TokenFollower {
  private view?: TokenView;
  private held: EventEnvelope[] = [];
  private callbacks?: FollowerCallbacks;
  private unsubscribe?: () => void;
  private closed = false;
  private rereading = false;
  private highestSeen = 0;

  constructor(
    private readonly feed: Pick<TokenEventFeed, 'subscribe'>,
    private readonly tokenId: string,
    private readonly readToken: () => Promise<TokenView>,
    /** The current state when the caller knows it without a read (TokenEventFeed.createdView); asked after subscribing. */
    private readonly knownView: () => TokenView | undefined = () => undefined,
  ) {}

  /** Subscribes, then reads the current state (unless known). A failed read (e.g. not found) is thrown. */
  async open(): Promise<TokenView> {
    this.unsubscribe = this.feed.subscribe(this.tokenId, (event) => this.receive(event));
    try {
      this.view = this.knownView() ?? (await this.readToken());
    } catch (error) {
      this.close();
      throw error;
    }
    return this.view;
  }

  /** Starts reporting changes after the state `open()` returned, beginning with any held back. */
  follow(callbacks: FollowerCallbacks): void {
    this.callbacks = callbacks;
    for (const event of this.held.splice(0)) this.receive(event);
  }

  close(): void {
    this.closed = true;
    this.held = [];
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private receive(event: EventEnvelope): void {
    if (this.closed) return;
    if (!this.callbacks || !this.view) {
      this.held.push(event);
      return;
    }
    this.highestSeen = Math.max(this.highestSeen, event.streamVersion);
    if (event.streamVersion <= this.view.version || this.rereading) return;
    const next = evolveTokenView(this.view, event);
    if (next) this.advance(next);
    else void this.readAgain();
  }

  private advance(view: TokenView): void {
    if (this.closed || view.version <= this.view!.version) return;
    this.view = view;
    this.callbacks!.changed(view);
  }

  private async readAgain(): Promise<void> {
    this.rereading = true;
    try {
      // Repeats while events newer than the state read keep arriving during the read.
      do {
        const view = await this.readToken();
        if (this.closed) return;
        this.advance(view);
      } while (!this.closed && this.highestSeen > this.view!.version);
    } catch (error) {
      if (!this.closed) this.callbacks!.failed(error);
    } finally {
      this.rereading = false;
    }
  }
}
