import 'reflect-metadata';
import { ConfigError, Env } from '@waitpoints/contracts';
import { pendingMigrations } from '@waitpoints/platform';
import { loadTokenServiceConfig } from '../../config';
import { Database, knownMigrationNames, MIGRATIONS_TABLE } from '../../database/database';
import { describeRange, parseProjectionsArguments } from './created-range';
import { REPLAY_CHUNK_EVENTS } from './event-replay';
import { rebuildProjections } from './rebuild-projections';
import { formatVerifyReport, VERIFY_PAGE_ROWS, verifyProjections } from './verify-projections';

const USAGE = `Usage: npm run projections:rebuild -- [options] | npm run projections:verify -- [options]
  (or: node dist/apps/token-service/src/projections/maintenance/projections-cli.js rebuild|verify [options])

  rebuild  Replay the event store into fresh read tables and swap them in (safe while token-services run).
  verify   Replay the event store into scratch tables and compare them with the live read tables.

Options (both commands):
  --since <time>     only tokens created at or after: ISO 8601 (2026-11-01, 2026-11-01T12:00:00Z)
                     or a duration before now (7d, 12h, 1w2d)
  --until <time>     only tokens created before: ISO 8601
  --page-size <n>    rows per comparison page and events per replay chunk (default ${VERIFY_PAGE_ROWS} / ${REPLAY_CHUNK_EVENTS})
  With --since/--until, verify compares and rebuild replaces only those tokens (and their keys).

Reads DATABASE_URL (and REQUEST_KEY_RETENTION) like the token-service. Exit codes: 0 done (verify: tables match),
1 verify found differences, 2 could not run.`;

export const EXIT = { ok: 0, different: 1, failed: 2 } as const;

/** The maintenance commands on the token-service's read tables; returns the exit code. */
export async function runProjectionsCommand(args: string[], env: Env, print: (line: string) => void): Promise<number> {
  if (args[0] === undefined || args.includes('--help') || args.includes('-h')) {
    print(USAGE);
    return args[0] === undefined ? EXIT.failed : EXIT.ok;
  }
  const parsed = parseProjectionsArguments(args, new Date());
  if (!parsed.ok) {
    print(`${parsed.error}\n\n${USAGE}`);
    return EXIT.failed;
  }
  const { command, range, pageSize } = parsed.value;
  let databaseUrl: string;
  let requestKeyRetentionMs: number | undefined;
  try {
    ({ databaseUrl, requestKeyRetentionMs } = loadTokenServiceConfig(env));
  } catch (error) {
    print(error instanceof ConfigError ? error.message : String(error));
    return EXIT.failed;
  }
  const db = Database.connect({ url: databaseUrl, poolSize: 4, applicationName: `waitpoints-projections-${command}` });
  try {
    const { pending } = await pendingMigrations(db, MIGRATIONS_TABLE, knownMigrationNames());
    if (pending.length > 0) {
      print(`The database lacks migrations (${pending.join(', ')}): start the token-service once, it applies them.`);
      return EXIT.failed;
    }
    if (command === 'rebuild') {
      const report = await rebuildProjections(db, { log: (line) => print(line), range, chunkEvents: pageSize });
      print(
        `Rebuilt the read tables from ${report.events} events (${describeRange(report.range)}) in ${report.durationMs} ms ` +
          `(${report.catchUpRounds} catch-up round(s); tables locked for ${report.lockHeldMs} ms).`,
      );
      return EXIT.ok;
    }
    const report = await verifyProjections(db, { log: (line) => print(line), requestKeyRetentionMs, range, pageSize });
    print(formatVerifyReport(report));
    return report.consistent ? EXIT.ok : EXIT.different;
  } catch (error) {
    print(`projections ${command} failed: ${(error as Error).message}`);
    return EXIT.failed;
  } finally {
    await db.close();
  }
}

if (require.main === module) {
  runProjectionsCommand(process.argv.slice(2), process.env, (line) => console.log(line)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error);
      process.exit(EXIT.failed);
    },
  );
}
