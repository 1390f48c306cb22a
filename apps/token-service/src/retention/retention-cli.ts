import 'reflect-metadata';
import { ConfigError, Env, parseDuration, parseIsoDate } from '@waitpoints/contracts';
import { pendingMigrations } from '@waitpoints/platform';
import { systemClock } from '../commands/clock';
import { loadTokenServiceConfig, retentionIsOff, TokenServiceConfig } from '../config';
import { Database, knownMigrationNames, MIGRATIONS_TABLE, openDatabase } from '../database/database';
import { FileSystemArchiveStore } from './archive-store';
import { restorePeriod } from './archive-restore';
import { EventArchive } from './event-archive';
import { describeRetention, TokenRetention } from './token-retention';

const USAGE = `Usage:
  npm run retention:run                      Run retention passes until no finished token past TOKEN_RETENTION is left
  npm run archive:find -- <tokenId>          Print a token's archived events (one JSON line each)
  npm run archive:load -- <period> [--database-url URL]
                                             Load a period's archived events (2026-11-30, or 2026-11-30T14 for an hour)
                                             into es_events of a database (default DATABASE_URL; created and migrated
                                             if missing) and project them; events already there are skipped
  npm run archive:prune -- --before <when> [--dry-run]
                                             Remove the archive's periods (UTC hours of finish) that ended before <when>:
                                             a UTC day or time (2026-01-01, 2026-01-01T12:00:00Z) or an age (365d = a year ago)
  (or: node dist/apps/token-service/src/retention/retention-cli.js run | find <tokenId> | load <period> | prune …)

Reads DATABASE_URL, TOKEN_RETENTION, RETENTION_BATCH_SIZE, RETENTION_MAX_RATE, ARCHIVE_DIR and NATS_SUBJECT_PREFIX (the outbox
checkpoint) like the token-service. Exit codes: 0 done, 1 nothing found (find), 2 could not run.`;

export const EXIT = { ok: 0, notFound: 1, failed: 2 } as const;

/** The retention and archive commands; returns the exit code. */
export async function runRetentionCommand(args: string[], env: Env, print: (line: string) => void): Promise<number> {
  const [command, ...rest] = args;
  if (command !== 'run' && command !== 'find' && command !== 'load' && command !== 'prune') {
    print(USAGE);
    return command === '--help' || command === '-h' ? EXIT.ok : EXIT.failed;
  }
  let config: TokenServiceConfig;
  try {
    config = loadTokenServiceConfig(env);
  } catch (error) {
    print(error instanceof ConfigError ? error.message : String(error));
    return EXIT.failed;
  }
  const archive = config.archiveDir === undefined ? undefined : new EventArchive(new FileSystemArchiveStore(config.archiveDir));
  try {
    if (command === 'run') return await run(config, archive, print);
    if (!archive) {
      print('ARCHIVE_DIR is not set: there is no archive to read.');
      return EXIT.failed;
    }
    if (command === 'prune') return await prune(archive, rest, print);
    if (command === 'find') {
      const tokenId = rest[0]?.replace(/^waitpoint_/, '');
      if (!tokenId) {
        print(USAGE);
        return EXIT.failed;
      }
      const events = await archive.find(tokenId);
      for (const event of events) print(JSON.stringify(event));
      if (events.length === 0) print(`No archived events of token ${tokenId} in ${archive.store.location}.`);
      return events.length === 0 ? EXIT.notFound : EXIT.ok;
    }
    const period = rest.find((arg) => !arg.startsWith('--') && arg !== databaseUrlArgument(rest));
    if (!period) {
      print(USAGE);
      return EXIT.failed;
    }
    const db = await openDatabase({
      url: databaseUrlArgument(rest) ?? config.databaseUrl,
      poolSize: 2,
      applicationName: 'waitpoints-archive-load',
    });
    try {
      const report = await restorePeriod(db, archive, period);
      print(
        `Loaded ${report.loaded} events from ${report.segments} segment(s) of ${period}; ${report.skipped} were already there (skipped by event id).`,
      );
      return EXIT.ok;
    } finally {
      await db.close();
    }
  } catch (error) {
    print(`${command} failed: ${(error as Error).message}`);
    return EXIT.failed;
  }
}

/** `archive:prune`: the archive's own retention, whole periods at a time. */
async function prune(archive: EventArchive, args: string[], print: (line: string) => void): Promise<number> {
  const index = args.indexOf('--before');
  const before = index >= 0 ? cutoffOf(args[index + 1]) : undefined;
  if (!before) {
    print(`prune needs --before <when>: a UTC day or time (2026-01-01, 2026-01-01T12:00:00Z) or an age (365d).\n\n${USAGE}`);
    return EXIT.failed;
  }
  const dryRun = args.includes('--dry-run');
  const report = await archive.prune(before, { dryRun });
  const what = `${report.periods.length} hour(s) of finished tokens before ${before.toISOString()}: ${report.segments} segment(s), ${report.events} events, ${report.bytes} bytes`;
  if (report.periods.length > 0) print(`from ${report.periods[0]} to ${report.periods[report.periods.length - 1]}`);
  print(
    dryRun
      ? `Would remove ${what} (dry run: nothing removed).`
      : `Removed ${what} (${report.deleted} objects) from ${archive.store.location}.`,
  );
  return EXIT.ok;
}

/** `2026-01-01`, `2026-01-01T12:00:00Z` or an age such as `365d` (that long before now). */
function cutoffOf(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const age = parseDuration(value);
  if (age !== undefined) return new Date(Date.now() - age);
  return parseIsoDate(value);
}

function databaseUrlArgument(args: string[]): string | undefined {
  const index = args.indexOf('--database-url');
  return index >= 0 ? args[index + 1] : undefined;
}

async function run(config: TokenServiceConfig, archive: EventArchive | undefined, print: (line: string) => void): Promise<number> {
  if (retentionIsOff(config.tokenRetention)) {
    print('TOKEN_RETENTION is off: nothing to remove.');
    return EXIT.ok;
  }
  const db = Database.connect({ url: config.databaseUrl, poolSize: 2, applicationName: 'waitpoints-retention-run' });
  try {
    const { pending } = await pendingMigrations(db, MIGRATIONS_TABLE, knownMigrationNames());
    if (pending.length > 0) {
      print(`The database lacks migrations (${pending.join(', ')}): start the token-service once, it applies them.`);
      return EXIT.failed;
    }
    const options = {
      policy: config.tokenRetention,
      outboxSubscriberId: `jetstream:${config.nats.subjectPrefix}`,
      batchSize: config.retentionBatchSize,
      intervalMs: config.retentionIntervalMs,
      maxRate: config.retentionMaxRate,
      archive,
      clock: systemClock,
    };
    print(describeRetention(options));
    const retention = new TokenRetention(db, options);
    const started = Date.now();
    let removed = 0;
    for (;;) {
      const pass = await retention.runPass();
      if (!pass.ran) {
        print('Another retention pass is running on this database (a token-service instance); waiting for it.');
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        continue;
      }
      removed += pass.removed;
      if (pass.removed === 0) break;
    }
    const minutes = (Date.now() - started) / 60_000;
    const perMinute = minutes > 0 ? Math.round(removed / minutes) : removed;
    print(
      `Removed ${removed} tokens in ${Math.round(minutes * 60_000)} ms (${perMinute} tokens/minute)${archive ? `, archived to ${archive.store.location}` : ''}.`,
    );
    return EXIT.ok;
  } finally {
    await db.close();
  }
}

if (require.main === module) {
  runRetentionCommand(process.argv.slice(2), process.env, (line) => console.log(line)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error);
      process.exit(EXIT.failed);
    },
  );
}
