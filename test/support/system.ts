import { createServer } from 'node:net';
import { INestApplication } from '@nestjs/common';
import { eventStreamName } from '@waitpoints/contracts';
import { outputsBucketName, uploadsBucketName } from '@waitpoints/contracts/nats/output-store';
import { createGateway, GatewayOptions } from '../../apps/gateway/src/app';
import { loadGatewayConfig } from '../../apps/gateway/src/config';
import { createTokenService } from '../../apps/token-service/src/app';
import { loadTokenServiceConfig } from '../../apps/token-service/src/config';
import { TokenServiceOverrides } from '../../apps/token-service/src/token-service.module';
import { TEST_NATS_URL, deleteStream, dropDatabase, requireNats, requirePostgres, testDatabaseUrl, uniqueRunName } from './services';

export const TEST_KEYS = {
  dev: 'tr_dev_test_key_0123456789abcdef',
  prod: 'tr_prod_test_key_0123456789abcdef',
} as const;
export const TEST_SIGNING_SECRETS = ['test-signing-secret-current-0123456789', 'test-signing-secret-previous-012345678'];

export interface RunningSystem {
  baseUrl: string;
  tokensUrl: string;
  databaseUrl: string;
  subjectPrefix: string;
  streamName: string;
  /** The token-service app: NATS handlers, plus /metrics, /health, /ready at `tokenServiceOpsUrl`. */
  tokenService: INestApplication;
  tokenServiceOpsUrl: string;
  gateway: INestApplication;
  /** Stops the apps; with `keepData: false` (default) drops the database and the stream. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export interface SystemOptions {
  env?: Record<string, string>;
  tokenService?: TokenServiceOverrides;
  gateway?: GatewayOptions;
  /** Reuse a database/prefix (e.g. to restart a service over the same state). */
  name?: string;
}

/** Boots token-service and gateway in this process against real PostgreSQL and NATS. */
export async function startSystem(options: SystemOptions = {}): Promise<RunningSystem> {
  await Promise.all([requirePostgres(), requireNats()]);
  const name = options.name ?? uniqueRunName();
  const databaseUrl = testDatabaseUrl(name);
  const port = await freePort();
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    NATS_URL: TEST_NATS_URL,
    NATS_SUBJECT_PREFIX: name,
    NATS_REQUEST_TIMEOUT_MS: '5000',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    HOST: '127.0.0.1',
    API_KEYS: `dev:${TEST_KEYS.dev},prod:${TEST_KEYS.prod}`,
    SIGNING_SECRETS: TEST_SIGNING_SECRETS.join(','),
    // Any free port: several test systems run side by side.
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    ...options.env,
  };
  process.env.LOG_LEVEL = 'silent';
  const tokenService = await createTokenService(loadTokenServiceConfig(env), options.tokenService);
  let gateway: INestApplication;
  try {
    const gatewayConfig = loadGatewayConfig(env);
    gateway = await createGateway(gatewayConfig, options.gateway);
  } catch (error) {
    await tokenService.close();
    throw error;
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  const streamName = eventStreamName(name);
  return {
    baseUrl,
    tokensUrl: `${baseUrl}/api/v1/waitpoints/tokens`,
    databaseUrl,
    subjectPrefix: name,
    streamName,
    tokenService,
    tokenServiceOpsUrl: await opsUrlOf(tokenService),
    gateway,
    async stop({ keepData = false } = {}) {
      await gateway.close();
      await tokenService.close();
      if (!keepData) {
        await dropDatabase(databaseUrl);
        await deleteStream(streamName);
        // Object stores are streams named OBJ_<bucket>.
        await deleteStream(`OBJ_${uploadsBucketName(name)}`);
        await deleteStream(`OBJ_${outputsBucketName(name)}`);
      }
    },
  };
}

/** Where an app's HTTP listener ended up (port 0 picks a free one). */
async function opsUrlOf(app: INestApplication): Promise<string> {
  const address = app.getHttpServer().address();
  return typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
}

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
