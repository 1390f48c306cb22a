import { startCompletedTokenReactor } from './reactor';

/** Runs the reactor until Ctrl-C. Settings: DATABASE_URL, NATS_URL, NATS_SUBJECT_PREFIX. */
async function main() {
  const reactor = await startCompletedTokenReactor({
    databaseUrl: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/waitpoints',
  });
  console.log(`reacting to completed tokens as durable consumer "${reactor.consumer.durableName}"; Ctrl-C stops`);
  const stop = async () => {
    await reactor.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
