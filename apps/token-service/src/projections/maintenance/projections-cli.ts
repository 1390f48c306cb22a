import 'reflect-metadata';
import { ConfigError, Env } from '@waitpoints/contracts';
import { pendingMigrations } from '@waitpoints/platform';
import { loadTokenServiceConfig } from '../../config';
import { Database, knownMigrationNames, MIGRATIONS_TABLE } from '../../database/database';
import { rebuildProjections } from './rebuild-projections';
import { formatVerifyReport, verifyProjections } from './verify-projections';

const USAGE = `Usage: npm run projections:rebuild | npm run projections:verify
  (or: node dist/apps/token-service/src/projections/maintenance/projections-cli.js rebuild|verify)

  rebuild  Replay the event store into fresh read tables and swap them in (safe while token-services run).
  verify   Replay the event store into scratch tables and compare them with the live read tables.

Reads DATABASE_URL (and REQUEST_KEY_RETENTION) like the token-service. Exit codes: 0 done (verify: tables match),
1 verify found differences, 2 could not run.`;

export const EXIT = { ok: 0, different: 1, failed: 2 } as const;

/** The maintenance commands on the token-service's read tables; returns the exit code. */
export async function runProjectionsCommand(args: string[], env: Env, print: (line: string) => void): Promise<number> {
  const command = args[0];
  if (command !== 'rebuild' && command !== 'verify') {
    print(USAGE);
    return command === '--help' || command === '-h' ? EXIT.ok : EXIT.failed;
  }
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
      const report = await rebuildProjections(db, { log: (line) => print(line) });
      print(
        `Rebuilt the read tables from ${report.events} events in ${report.durationMs} ms ` +
          `(${report.catchUpRounds} catch-up round(s); tables locked for ${report.lockHeldMs} ms).`,
      );
      return EXIT.ok;
    }
    const report = await verifyProjections(db, { log: (line) => print(line), requestKeyRetentionMs });
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
