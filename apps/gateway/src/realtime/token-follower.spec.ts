import { EventEnvelope, TokenView } from '@waitpoints/contracts';
import { FIXTURE_TOKEN_ID, completedToken, completionOf, waitingToken } from '../../../../test/support/token-fixtures';
import { TokenEventListener } from './token-event-feed';
import { TokenFollower } from './token-follower';

const tokenId = FIXTURE_TOKEN_ID;
const waiting = waitingToken;
const completed = completedToken();
const completion = completionOf(completed);

const unexpected = (error: unknown) => {
  throw new Error(`following failed: ${String(error)}`);
};

/** A feed the test drives by hand. */
function fakeFeed() {
  const listeners = new Set<TokenEventListener>();
  return {
    subscribe: (_id: string, listener: TokenEventListener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    publish: (event: EventEnvelope) => listeners.forEach((listener) => listener(event)),
    get listeners() {
      return listeners.size;
    },
  };
}

describe('following one token', () => {
  it('subscribes before it reads, so a completion during the read is delivered afterwards', async () => {
    const feed = fakeFeed();
    const follower = new TokenFollower(feed, tokenId, async () => {
      expect(feed.listeners).toBe(1);
      feed.publish(completion); // committed after the read looked: the read still says WAITING
      return waiting;
    });
    const changes: TokenView[] = [];
    expect(await follower.open()).toEqual(waiting);
    follower.follow({ changed: (view) => changes.push(view), failed: unexpected });
    expect(changes).toEqual([completed]);
  });

  it('drops an event the state read already holds, and repeats of an event', async () => {
    const feed = fakeFeed();
    const follower = new TokenFollower(feed, tokenId, async () => {
      feed.publish(completion);
      return completed;
    });
    const changes: TokenView[] = [];
    await follower.open();
    follower.follow({ changed: (view) => changes.push(view), failed: unexpected });
    feed.publish(completion);
    expect(changes).toEqual([]);
  });

  it('reads the token again when an event does not follow the known version', async () => {
    const feed = fakeFeed();
    const reads = [waiting, { ...completed, version: 3 }];
    const follower = new TokenFollower(feed, tokenId, async () => reads.shift()!);
    const changes: TokenView[] = [];
    await follower.open();
    follower.follow({ changed: (view) => changes.push(view), failed: unexpected });
    feed.publish({ ...completion, streamVersion: 3 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(changes).toEqual([{ ...completed, version: 3 }]);
  });

  it('reads the token again for a completion whose large output is only referenced', async () => {
    const feed = fakeFeed();
    const reads = [waiting, completed];
    const follower = new TokenFollower(feed, tokenId, async () => reads.shift()!);
    const changes: TokenView[] = [];
    await follower.open();
    follower.follow({ changed: (view) => changes.push(view), failed: unexpected });
    const { output: _output, ...data } = completion.data as { output?: string };
    feed.publish({ ...completion, data: { ...data, outputRef: 'event-x' } } as EventEnvelope);
    await new Promise((resolve) => setImmediate(resolve));
    expect(changes).toEqual([completed]);
  });

  it('unsubscribes when closed, and when the read fails', async () => {
    const feed = fakeFeed();
    const follower = new TokenFollower(feed, tokenId, async () => waiting);
    await follower.open();
    follower.close();
    expect(feed.listeners).toBe(0);

    const failing = new TokenFollower(feed, tokenId, async () => {
      throw new Error('not found');
    });
    await expect(failing.open()).rejects.toThrow('not found');
    expect(feed.listeners).toBe(0);
  });
});
