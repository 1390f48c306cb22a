import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './processes';

/** One line of the fault report. */
export interface FaultReport {
  fault: string;
  requestsSent: number;
  acknowledged: number;
  /** Acknowledged writes missing from the event store/projection, plus stored events missing from JetStream. Must be 0. */
  lost: number;
  /** Events on JetStream more than once (or not stored), and tokens with more than one terminal event. Must be 0. */
  duplicated: number;
  /** From the moment the fault was lifted (or injected, when nothing is restarted) to the first acknowledged request after the last failure. */
  recoveryMs: number | null;
  /** What else was measured: error answers, slowest answer, timeouts fired… */
  details: Record<string, unknown>;
}

const RUN_DIR_VARIABLE = 'WAITPOINTS_FAULTS_RUN_DIR';

/** Each fault file writes its line here; the global teardown gathers them into one report. */
export function recordFault(report: FaultReport): void {
  const dir = process.env[RUN_DIR_VARIABLE];
  const line = formatTable([report]);
  process.stdout.write(`${line}\n`);
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${Date.now()}-${report.fault.replace(/[^a-z0-9]+/gi, '-')}.json`), JSON.stringify(report, null, 2));
}

export function startRun(): void {
  const dir = join(REPO_ROOT, 'bench', 'results', `.faults-run-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  process.env[RUN_DIR_VARIABLE] = dir;
}

/** Prints the table and writes bench/results/faults-<time>.json; returns the file. */
export function finishRun(): string | undefined {
  const dir = process.env[RUN_DIR_VARIABLE];
  if (!dir) return undefined;
  // Faults are named "<number> <what>": the table follows the issue's order, not Jest's.
  const reports: FaultReport[] = readdirSync(dir)
    .map((file) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as FaultReport)
    .sort((a, b) => a.fault.localeCompare(b.fault, 'en', { numeric: true }));
  rmSync(dir, { recursive: true, force: true });
  if (reports.length === 0) return undefined;
  const file = join(REPO_ROOT, 'bench', 'results', `faults-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        schedulerOutageMs: Number(process.env.FAULTS_SCHEDULER_OUTAGE_MS ?? 120_000),
        faults: reports,
      },
      null,
      2,
    ),
  );
  process.stdout.write(`\nFault injection results (${file}):\n${formatTable(reports)}\n`);
  return file;
}

export function formatTable(reports: FaultReport[]): string {
  const header = ['fault', 'sent', 'acknowledged', 'lost', 'duplicated', 'recovery'];
  const rows = reports.map((r) => [
    r.fault,
    String(r.requestsSent),
    String(r.acknowledged),
    String(r.lost),
    String(r.duplicated),
    r.recoveryMs === null ? '–' : `${(r.recoveryMs / 1000).toFixed(1)} s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}
