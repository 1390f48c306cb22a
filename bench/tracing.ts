import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { OtlpReceiver } from './otlp-receiver';

/**
 * `npm run bench:tracing`: what tracing costs. Runs `bench/load.ts` (each run its own fresh
 * system of separate service processes) with tracing off, on at 100 % sampling and on at 1 %
 * (parentbased_traceidratio 0.01), interleaved round after round so that the machine's drift
 * (it is shared) spreads over the three. The traced runs export OTLP/HTTP JSON to a receiver
 * started here (in this process, not the load generator's: it only counts spans).
 *
 * Flags: --rounds 2, and any flag of bench/load.ts (default: --only create,complete
 * --connections 32 --seconds 5 --no-ceiling).
 */
const MODES = {
  off: {},
  'on 100%': { OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
  'on 1%': { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' },
} as const;
type Mode = keyof typeof MODES;

function flag(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const rounds = Number(flag('rounds') ?? 2);
const passed = process.argv.slice(2).filter((arg, i, all) => arg !== '--rounds' && all[i - 1] !== '--rounds');
const loadArgs = passed.length > 0 ? passed : ['--only', 'create,complete', '--connections', '32', '--seconds', '5', '--no-ceiling'];

interface LoadRow {
  scenario: string;
  connections: number;
  system: { requestsPerSecond: number; p50Ms: number; p99Ms: number; failures: number; cpuMsPerRequest: Record<string, number> };
}

function runLoad(env: Record<string, string>, label: string): Promise<LoadRow[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', 'bench/load.ts', ...loadArgs, '--label', label],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      process.stdout.write(chunk);
    });
    child.on('exit', (code) => {
      const file = out.match(/(bench\/results\/load-[^\s]+\.json)/)?.[1];
      if (code !== 0 || !file) return reject(new Error(`bench/load.ts (${label}) exited with ${code}`));
      const rows = (JSON.parse(readFileSync(file, 'utf8')) as { rows: LoadRow[] }).rows;
      rmSync(file); // one summary file for the whole comparison
      resolve(rows);
    });
  });
}

async function main() {
  const startedAt = Date.now();
  const receiver = new OtlpReceiver({ keep: false });
  const endpoint = await receiver.start();
  const runs: { round: number; mode: Mode; rows: LoadRow[]; spans: number; exports: number }[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const mode of Object.keys(MODES) as Mode[]) {
        const env: Record<string, string> =
          mode === 'off' ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', ...MODES[mode] };
        const before = { spans: receiver.spanCount, exports: receiver.requests };
        console.log(`\n== round ${round}: tracing ${mode}`);
        const rows = await runLoad(env, `tracing ${mode}`);
        runs.push({ round, mode, rows, spans: receiver.spanCount - before.spans, exports: receiver.requests - before.exports });
      }
    }
  } finally {
    await receiver.stop();
  }
  const summary = runs.flatMap(({ round, mode, rows, spans }) =>
    rows.map((row) => ({
      round,
      tracing: mode,
      scenario: row.scenario,
      'req/s': row.system.requestsPerSecond,
      'p50 ms': row.system.p50Ms,
      'p99 ms': row.system.p99Ms,
      failures: row.system.failures,
      'gateway CPU ms/req': row.system.cpuMsPerRequest.gateway,
      'token-service CPU ms/req': row.system.cpuMsPerRequest.tokenService,
      'spans (run)': spans,
    })),
  );
  console.table(summary);
  const measuredAt = new Date().toISOString();
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/tracing-${measuredAt.replace(/[:.]/g, '-')}.json`;
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        benchmark: 'tracing',
        measuredAt,
        durationSeconds: Math.round((Date.now() - startedAt) / 1000),
        machine: { cpus: cpus().length, loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100), node: process.version },
        loadArgs,
        rounds,
        runs,
      },
      null,
      2,
    )}\n`,
  );
  console.log(file);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
