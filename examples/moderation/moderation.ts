import { WaitpointTimeoutError, WaitpointsClient } from '@waitpoints/sdk';

export interface Post {
  id: string;
  author: string;
  content: string;
}

export interface ModerationDecision {
  approved: boolean;
  comment?: string;
}

export type ModerationOutcome =
  { status: 'published'; comment?: string } | { status: 'rejected'; comment?: string } | { status: 'timed_out' };

export interface ModerationDeps {
  waitpoints: WaitpointsClient;
  /** Sends the approval request to a human: an email, a Slack message, a ticket… */
  askModerator(request: { post: Post; approveUrl: string; tokenId: string }): Promise<void>;
  publish(post: Post): Promise<void>;
}

/**
 * The seeds' human-approval flow: pause a content pipeline until a moderator decides.
 *
 * Safe to run again after a crash: the idempotency key gives back the same token
 * (`isCached: true`), the moderator is not asked twice, and the decision that arrived while
 * nothing was running is returned at once.
 */
export async function moderatePost(post: Post, deps: ModerationDeps, timeout = '24h'): Promise<ModerationOutcome> {
  const token = await deps.waitpoints.createToken({
    idempotencyKey: `moderate-post-${post.id}`,
    idempotencyKeyTTL: '7d',
    timeout,
    tags: ['moderation', `post:${post.id}`, `user:${post.author}`],
  });
  if (!token.isCached) {
    // The moderator's tool POSTs {"approved": true, "comment": "…"} to this URL; no API key needed.
    await deps.askModerator({ post, approveUrl: token.url, tokenId: token.id });
  }

  let decision: ModerationDecision;
  try {
    decision = await deps.waitpoints.forToken<ModerationDecision>(token.id).unwrap();
  } catch (error) {
    if (error instanceof WaitpointTimeoutError) return { status: 'timed_out' };
    throw error;
  }
  if (!decision.approved) return { status: 'rejected', comment: decision.comment };
  await deps.publish(post);
  return { status: 'published', comment: decision.comment };
}
