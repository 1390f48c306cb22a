import autocannon from 'autocannon';
import { writeFileSync } from 'node:fs';
import { startBenchSystem } from './support';

/**
 * Tokens created per second through the gateway (HTTP → NATS → token-service → PostgreSQL),
 * with N concurrent clients. Usage: npm run build && npm run bench:create [-- --connections 32 --seconds 15]
 */
function arg(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

async function main() {
  const connections = arg('connections', 32);
  const seconds = arg('seconds', 15);
  const system = await startBenchSystem();
  try {
    const common = {
      url: `${system.baseUrl}/api/v1/waitpoints/tokens`,
      method: 'POST' as const,
      headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ timeout: '1h', tags: ['bench'] }),
      connections,
    };
    await autocannon({ ...common, duration: 3 }); // warm-up: JIT, pools, NATS subscriptions
    const result = await autocannon({ ...common, duration: seconds });
    const summary = {
      scenario: 'create token',
      connections,
      seconds,
      requests: result.requests.total,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      throughputPerSecond: Math.round(result.requests.average),
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      measuredAt: new Date().toISOString(),
    };
    console.table([
      {
        scenario: summary.scenario,
        connections,
        'req/s': summary.throughputPerSecond,
        'p50 ms': summary.latencyMs.p50,
        'p99 ms': summary.latencyMs.p99,
        non2xx: summary.non2xx,
        errors: summary.errors,
      },
    ]);
    writeFileSync('bench/results/create-tokens.json', `${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    await system.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
