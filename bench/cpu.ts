import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/**
 * CPU time per component, read from /proc. On a saturated 2-core machine throughput is
 * roughly 2 CPU-seconds divided by the CPU one request costs, and CPU per request is far
 * less disturbed by other work on the machine than requests per second are.
 */
const TICKS_PER_SECOND = 100;

function cpuTicks(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Every process whose command name is `name` (nats-server is shared with other users). */
export function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export type PidsByComponent = Record<string, number[]>;

/** PostgreSQL backends serving one database (the server is shared: only that system's), asked through `admin`. */
export async function postgresBackends(
  admin: { query<R>(text: string, values: unknown[]): Promise<{ rows: R[] }> },
  database: string,
): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [
    database,
  ]);
  return rows.map((row) => Number(row.pid));
}

/** Runs `work` and returns the CPU seconds each component spent meanwhile. */
export async function measureCpu<T>(
  components: PidsByComponent,
  work: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number>; machineLoad: number }> {
  const ticksOf = () =>
    new Map(
      Object.values(components)
        .flat()
        .map((pid) => [pid, cpuTicks(pid)]),
    );
  const before = ticksOf();
  const result = await work();
  const after = ticksOf();
  const cpu: Record<string, number> = {};
  for (const [name, pids] of Object.entries(components)) {
    // A process that ended meanwhile (a pooled connection closed) reads as 0: left out.
    const used = pids.map((pid) => after.get(pid)! - before.get(pid)!).filter((ticks) => ticks >= 0);
    cpu[name] = used.reduce((sum, ticks) => sum + ticks, 0) / TICKS_PER_SECOND;
  }
  return { result, cpu, machineLoad: loadavg()[0] };
}

/**
 * Like measureCpu, but asks for the processes both before and after the work: one that
 * appeared meanwhile (a pooled PostgreSQL connection opened under load) counts from zero.
 * A process that both started and ended during the work is missed.
 */
export async function measureCpuListed<T>(
  list: () => Promise<PidsByComponent>,
  work: () => Promise<T>,
): Promise<{ result: T; cpu: Record<string, number>; machineLoad: number }> {
  const listedBefore = await list();
  const before = new Map(
    Object.values(listedBefore)
      .flat()
      .map((pid) => [pid, cpuTicks(pid)]),
  );
  const result = await work();
  const listedAfter = await list();
  const cpu: Record<string, number> = {};
  for (const name of new Set([...Object.keys(listedBefore), ...Object.keys(listedAfter)])) {
    const pids = new Set([...(listedBefore[name] ?? []), ...(listedAfter[name] ?? [])]);
    let ticks = 0;
    for (const pid of pids) {
      const used = cpuTicks(pid) - (before.get(pid) ?? 0);
      // Ended meanwhile (reads as 0): left out.
      if (used > 0) ticks += used;
    }
    cpu[name] = ticks / TICKS_PER_SECOND;
  }
  return { result, cpu, machineLoad: loadavg()[0] };
}
