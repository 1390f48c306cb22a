import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { eventually } from '../support/jetstream';
import { getText } from '../support/observability';
import { RunningSystem, startSystem } from '../support/system';

/**
 * Readiness follows NATS: a private nats-server (the shared one must never be stopped) is
 * killed under a running gateway and token-service, and started again.
 */
describe('readiness when NATS goes away and comes back', () => {
  let natsPort: number;
  let storeDir: string;
  let nats: ChildProcess | undefined;
  let system: RunningSystem;

  const startNats = async () => {
    nats = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', storeDir], { stdio: 'ignore' });
    await eventually(async () => (await connect({ servers: `nats://127.0.0.1:${natsPort}` })).close(), 10_000, 100);
  };
  const stopNats = async () => {
    const process = nats;
    nats = undefined;
    if (!process || process.exitCode !== null) return;
    const exited = new Promise((resolve) => process.once('exit', resolve));
    process.kill('SIGKILL');
    await exited;
  };

  beforeAll(async () => {
    natsPort = await freePort();
    storeDir = mkdtempSync(join(tmpdir(), 'waitpoints-nats-'));
    await startNats();
    system = await startSystem({ env: { NATS_URL: `nats://127.0.0.1:${natsPort}` } });
  });

  afterAll(async () => {
    if (!nats) await startNats().catch(() => undefined);
    await system?.stop();
    await stopNats();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('is ready while NATS answers, 503 naming NATS when it is gone, and ready again once it is back', async () => {
    expect((await getText(`${system.baseUrl}/ready`)).status).toBe(200);
    expect((await getText(`${system.tokenServiceOpsUrl}/ready`)).status).toBe(200);

    await stopNats();
    await eventually(
      async () => {
        const gateway = await getText(`${system.baseUrl}/ready`);
        expect(gateway.status).toBe(503);
        expect(JSON.parse(gateway.text)).toMatchObject({ status: 'error', error: { nats: { status: 'down' } } });
        const tokenService = await getText(`${system.tokenServiceOpsUrl}/ready`);
        expect(tokenService.status).toBe(503);
        expect(JSON.parse(tokenService.text)).toMatchObject({
          error: { nats: { status: 'down' } },
          details: { database: { status: 'up' } },
        });
      },
      20_000,
      200,
    );
    // Alive all the same: a restart would not bring NATS back.
    expect((await getText(`${system.baseUrl}/health`)).status).toBe(200);
    expect((await getText(`${system.tokenServiceOpsUrl}/health`)).status).toBe(200);

    await startNats();
    await eventually(
      async () => {
        expect((await getText(`${system.baseUrl}/ready`)).status).toBe(200);
        expect((await getText(`${system.tokenServiceOpsUrl}/ready`)).status).toBe(200);
      },
      30_000,
      250,
    );
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
