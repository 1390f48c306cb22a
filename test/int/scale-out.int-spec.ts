import { INestApplication } from '@nestjs/common';
import { createTokenService } from '../../apps/token-service/src/app';
import { TokenCommandHandler } from '../../apps/token-service/src/commands/token-command-handler';
import { loadTokenServiceConfig } from '../../apps/token-service/src/config';
import { OutboxRelay } from '../../apps/token-service/src/outbox/outbox-relay';
import { eventually, readStream } from '../support/jetstream';
import { TEST_NATS_URL } from '../support/services';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

describe('two token-service instances behind one gateway', () => {
  let system: RunningSystem;
  let second: INestApplication;

  beforeAll(async () => {
    system = await startSystem();
    second = await createTokenService(
      loadTokenServiceConfig({
        DATABASE_URL: system.databaseUrl,
        NATS_URL: TEST_NATS_URL,
        NATS_SUBJECT_PREFIX: system.subjectPrefix,
        METRICS_PORT: '0',
      }),
    );
  });

  afterAll(async () => {
    await second?.close();
    await system?.stop();
  });

  it('share the commands (NATS queue group), and exactly one of them publishes the events', async () => {
    const handled = [system.tokenService, second].map((app) => jest.spyOn(app.get(TokenCommandHandler), 'create'));
    const responses = await Promise.all(
      Array.from({ length: 60 }, () =>
        fetch(system.tokensUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' },
          body: '{}',
        }),
      ),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);
    const counts = handled.map((spy) => spy.mock.calls.length);
    expect(counts[0] + counts[1]).toBe(60);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);

    const leaders = [system.tokenService, second].filter((app) => app.get(OutboxRelay).isLeader);
    expect(leaders).toHaveLength(1);
    const published = await eventually(async () => {
      const messages = await readStream(system.streamName);
      expect(messages).toHaveLength(60);
      return messages;
    });
    expect(new Set(published.map((m) => m.envelope.eventId)).size).toBe(60);
  });

  it('hand the outbox over when the publishing instance stops', async () => {
    const [leader, standby] = system.tokenService.get(OutboxRelay).isLeader ? [system.tokenService, second] : [second, system.tokenService];
    await leader.get(OutboxRelay).stop();
    await eventually(async () => expect(standby.get(OutboxRelay).isLeader).toBe(true), 10_000);
    const { token } = await standby.get(TokenCommandHandler).create({
      environment: 'dev',
      idempotencyKeyTTLMs: 1000,
      timeout: { afterMs: 60_000 },
      tags: [],
      metadata: { correlationId: 'handover', actor: { type: 'api_key', id: 'dev' } },
    });
    await eventually(async () => {
      const messages = await readStream(system.streamName, `${system.subjectPrefix}.evt.token.created.dev.${token.id}`);
      expect(messages).toHaveLength(1);
    });
    leader.get(OutboxRelay).start();
  });
});
