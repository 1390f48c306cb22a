/** The examples run against the started system, as a user would run them. */
import { WaitpointsClient } from '@waitpoints/sdk';
import { startCompletedTokenReactor } from './completed-token-reactor/reactor';
import { ModerationDeps, Post, moderatePost } from './moderation/moderation';
import { RunningScheduler, eventually, startScheduler, withDatabase } from '../test/support/scheduler';
import { TEST_NATS_URL } from '../test/support/services';
import { RunningSystem, TEST_KEYS, startSystem } from '../test/support/system';

let system: RunningSystem;
let scheduler: RunningScheduler;
let waitpoints: WaitpointsClient;

beforeAll(async () => {
  system = await startSystem();
  scheduler = await startScheduler(system);
  waitpoints = new WaitpointsClient({ baseURL: system.baseUrl, secretKey: TEST_KEYS.dev });
});

afterAll(async () => {
  await scheduler?.stop();
  await system?.stop();
});

describe('the moderation flow', () => {
  /** A moderator who answers through the callback URL, as an approval email's button would. */
  function moderatorWho(decision: { approved: boolean; comment?: string } | 'never answers') {
    const asked: string[] = [];
    const published: string[] = [];
    const deps: ModerationDeps = {
      waitpoints,
      askModerator: async ({ post, approveUrl }) => {
        asked.push(post.id);
        if (decision === 'never answers') return;
        setTimeout(() => void fetch(approveUrl, { method: 'POST', body: JSON.stringify(decision) }), 100);
      },
      publish: async (post) => {
        published.push(post.id);
      },
    };
    return { deps, asked, published };
  }

  const post = (id: string): Post => ({ id: `${id}-${Date.now()}`, author: 'alice', content: 'Hello' });

  it('publishes an approved post, and a rerun after a crash neither asks again nor waits', async () => {
    const approving = moderatorWho({ approved: true, comment: 'fine' });
    const p = post('approved');
    expect(await moderatePost(p, approving.deps)).toEqual({ status: 'published', comment: 'fine' });
    expect(approving.asked).toEqual([p.id]);

    const rerun = moderatorWho('never answers');
    expect(await moderatePost(p, rerun.deps)).toEqual({ status: 'published', comment: 'fine' });
    expect(rerun.asked).toEqual([]);
  });

  it('does not publish a rejected post', async () => {
    const rejecting = moderatorWho({ approved: false, comment: 'spam' });
    expect(await moderatePost(post('rejected'), rejecting.deps)).toEqual({ status: 'rejected', comment: 'spam' });
    expect(rejecting.published).toEqual([]);
  });

  it('reports a timeout when nobody decides in time', async () => {
    const silent = moderatorWho('never answers');
    expect(await moderatePost(post('silent'), silent.deps, '1s')).toEqual({ status: 'timed_out' });
  });
});

describe('the completed-token reactor', () => {
  it('records each completion once, even when the same events are delivered again', async () => {
    const settings = { databaseUrl: system.databaseUrl, natsUrl: TEST_NATS_URL, subjectPrefix: system.subjectPrefix };
    const reactor = await startCompletedTokenReactor({ ...settings, durableName: 'reactor-a', deliverFrom: 'new' });
    const tokens = await Promise.all([waitpoints.createToken(), waitpoints.createToken()]);
    try {
      await waitpoints.completeToken(tokens[0].id, { approved: true });
      await fetch(tokens[1].url, { method: 'POST', body: '{"approved": false}' });
      await eventually('both completions recorded', async () => (reactor.consumer.handled === 2 ? true : undefined));
    } finally {
      await reactor.stop();
    }
    const ours = tokens.map((t) => t.id.replace('waitpoint_', '')).sort();
    const approvals = () =>
      withDatabase(
        system.databaseUrl,
        async (db) =>
          (
            await db.query('SELECT token_id, output, completed_at FROM reactor_approvals WHERE token_id = ANY($1) ORDER BY token_id', [
              ours,
            ])
          ).rows,
      );
    const recorded = await approvals();
    expect(recorded.map((row) => row.token_id)).toEqual(ours);
    expect(recorded.map((row) => row.output).sort((a, b) => String(a.approved).localeCompare(String(b.approved)))).toEqual([
      { approved: false },
      { approved: true },
    ]);

    // A second durable replays every completion from the start: all of them are repeats now.
    const replaying = await startCompletedTokenReactor({ ...settings, durableName: 'reactor-replay', deliverFrom: 'all' });
    try {
      await eventually('the replay went through every completion', async () => (replaying.consumer.handled >= 2 ? true : undefined));
    } finally {
      await replaying.stop();
    }
    expect(await approvals()).toEqual(recorded);
  });
});
