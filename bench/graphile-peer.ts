/**
 * The benchmark's peer: graphile-worker running `runAt` jobs for the same deadlines, in its
 * own process (as our scheduler runs in its own), against the same PostgreSQL. Started by
 * bench/timeouts.ts; reports each job's lateness (task start − run_at) over IPC.
 */
import { Logger, run } from 'graphile-worker';

const connectionString = process.env.DATABASE_URL!;
const concurrency = Number(process.env.GRAPHILE_CONCURRENCY ?? 10);
const pollInterval = Number(process.env.GRAPHILE_POLL_INTERVAL_MS ?? 500);

const latenessByPhase: Record<string, number[]> = {};
const lastStartByPhase: Record<string, number> = {};
const quiet = new Logger(() => (level, message) => {
  if (level === 'error') console.error(`graphile-worker: ${message}`);
});

async function main(): Promise<void> {
  const runner = await run({
    connectionString,
    concurrency,
    pollInterval,
    noHandleSignals: true,
    logger: quiet,
    taskList: {
      waitpoint_timeout: async (payload, helpers) => {
        const startedAt = Date.now();
        const { phase } = payload as { phase: string };
        (latenessByPhase[phase] ??= []).push(startedAt - helpers.job.run_at.getTime());
        lastStartByPhase[phase] = Math.max(lastStartByPhase[phase] ?? 0, startedAt);
      },
    },
  });
  process.on('message', async (message: { type: string; phase?: string }) => {
    if (message.type === 'report') {
      const phase = message.phase!;
      process.send!({ type: 'report', phase, lateness: latenessByPhase[phase] ?? [], lastStart: lastStartByPhase[phase] ?? 0 });
    } else if (message.type === 'stop') {
      await runner.stop();
      process.exit(0);
    }
  });
  process.send!({ type: 'ready' });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
