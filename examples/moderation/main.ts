import { WaitpointsClient } from '@waitpoints/sdk';
import { moderatePost } from './moderation';

/**
 * Runs the moderation flow once against a running Waitpoints (npm start). It prints the
 * approval URL and waits; approve from another terminal with
 *   curl -X POST '<url>' -d '{"approved": true, "comment": "fine"}'
 * With --auto-approve a simulated moderator does that after two seconds.
 * Settings: WAITPOINTS_API_URL (default http://localhost:3000), WAITPOINTS_SECRET_KEY.
 */
async function main() {
  const waitpoints = new WaitpointsClient({
    baseURL: process.env.WAITPOINTS_API_URL ?? 'http://localhost:3000',
    secretKey: process.env.WAITPOINTS_SECRET_KEY ?? 'tr_dev_waitpoints_local_dev_key',
  });
  const post = { id: process.argv.find((a) => a.startsWith('--post='))?.slice(7) ?? `p${Date.now()}`, author: 'alice', content: 'Hello!' };
  const outcome = await moderatePost(post, {
    waitpoints,
    askModerator: async ({ approveUrl }) => {
      console.log(`moderation requested for post ${post.id}; approve with:\n  curl -X POST '${approveUrl}' -d '{"approved": true}'`);
      if (process.argv.includes('--auto-approve')) {
        setTimeout(() => void fetch(approveUrl, { method: 'POST', body: JSON.stringify({ approved: true, comment: 'auto' }) }), 2000);
      }
    },
    publish: async (p) => console.log(`published post ${p.id}`),
  });
  console.log('outcome:', outcome);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
