import { audit, AuditResult, countTimedOut, describeAudit, duplicatedCount, lostCount, waitForOverdueTimeouts } from './audit';
import { FaultSystem, FAULTS_API_KEY, FAULTS_REQUEST_TIMEOUT_MS } from './fault-system';
import { step } from './processes';
import { recordFault } from './report';
import { mixedTokens, SteadyLoad, SteadyLoadOptions } from './steady-load';

/** The shared PostgreSQL: faults that do not restart the database use a fresh database on it. */
export const SHARED_PG_ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Steady traffic: 60 requests/s is light enough for a shared 2-core machine, steady enough to be mid-flight at any fault. */
export function steadyLoad(system: FaultSystem, options: Partial<SteadyLoadOptions> = {}): SteadyLoad {
  return new SteadyLoad({
    baseUrl: system.baseUrl,
    apiKey: FAULTS_API_KEY,
    ratePerSecond: 60,
    maxInFlight: 64,
    plan: mixedTokens,
    // A gateway answer takes at most the NATS request timeout; anything far beyond it is a hang.
    clientTimeoutMs: FAULTS_REQUEST_TIMEOUT_MS + 10_000,
    ...options,
  });
}

/**
 * Audits the run against what the client saw acknowledged, records the fault's report line
 * and fails with everything needed to understand a failure (audit, errors, app logs).
 */
export async function auditAndReport(
  fault: string,
  system: FaultSystem,
  load: SteadyLoad,
  natsUrl: string,
  recoveryMs: number | undefined,
  details: Record<string, unknown> = {},
): Promise<AuditResult> {
  // Deadlines that passed during the fault must still fire (the scheduler recovered too).
  const timeouts =
    system.schedulers.length > 0
      ? await step('waiting for overdue timeouts', 45_000, () => waitForOverdueTimeouts(system.databaseUrl, 30_000))
      : undefined;
  const result = await step('the audit', 150_000, () =>
    audit({ databaseUrl: system.databaseUrl, natsUrl, subjectPrefix: system.subjectPrefix, load, archiveDir: system.archiveDir }),
  );
  recordFault({
    fault,
    requestsSent: load.sent,
    acknowledged: load.acknowledged,
    lost: lostCount(result),
    duplicated: duplicatedCount(result),
    recoveryMs: recoveryMs ?? null,
    details: {
      acknowledgedCreates: load.ackedCreates.size,
      acknowledgedCompletes: load.ackedCompletes.size,
      completionsAfterTimeout: result.completionsAfterTimeout,
      storedEvents: result.storedEvents,
      ...(system.archiveDir ? { removedTokens: result.removedTokens, archivedEvents: result.archivedEvents } : {}),
      jetStreamMessages: result.jetStreamMessages,
      slowestAnswerMs: load.slowestMs(),
      tokensTimedOut: await countTimedOut(system.databaseUrl),
      overdueTokensStillWaiting: timeouts?.stillWaiting,
      errors: load.errorSummary().slice(0, 8),
      ...details,
    },
  });
  const problems: string[] = [];
  if (lostCount(result) > 0 || duplicatedCount(result) > 0) problems.push(describeAudit(result));
  if (timeouts && timeouts.stillWaiting > 0) problems.push(`${timeouts.stillWaiting} overdue tokens never timed out`);
  const exits = system.unexpectedExits();
  if (exits.length > 0) problems.push(`processes crashed: ${exits.join('; ')}`);
  if (problems.length > 0) {
    throw new Error(
      `${fault}: ${problems.join('\n')}\nerrors seen by the client:\n  ${load.errorSummary().join('\n  ')}\n${system.logs()}`,
    );
  }
  return result;
}

/** Runs a check and, when it fails, adds the apps' recent logs to the message. */
export async function explained<T>(system: FaultSystem, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const err = error as Error;
    if (!err.message.includes('--- gateway')) err.message += `\n${system.logs()}`;
    throw err;
  }
}
