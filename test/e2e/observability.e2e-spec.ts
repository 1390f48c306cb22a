import { connect, headers as natsHeaders, JsMsg, NatsConnection, StringCodec } from 'nats';
import { CORRELATION_ID_HEADER, eventSubjects } from '@waitpoints/contracts';
import { RunningScheduler, startScheduler, withDatabase } from '../support/scheduler';
import { eventually } from '../support/jetstream';
import { LogCapture, getText, sampleValue } from '../support/observability';
import { TEST_NATS_URL } from '../support/services';
import { tokenServiceMigrations } from '../../apps/token-service/src/migrations';
import { RunningSystem, TEST_KEYS, startSystem } from '../support/system';

const codec = StringCodec();
const auth = { authorization: `Bearer ${TEST_KEYS.dev}`, 'content-type': 'application/json' };
type JsonResponse = Omit<Response, 'json'> & { json(): Promise<any> };

describe('observability of a running system', () => {
  const logs = new LogCapture();
  let system: RunningSystem;
  let scheduler: RunningScheduler;

  beforeAll(async () => {
    system = await startSystem({
      env: { LOG_LEVEL: 'debug' },
      tokenService: { logDestination: logs },
      gateway: { logDestination: logs },
    });
    scheduler = await startScheduler(system, { env: { LOG_LEVEL: 'silent' } });
  });

  afterAll(async () => {
    await scheduler?.stop();
    await system?.stop();
  });

  const post = (path: string, body: unknown, extra: Record<string, string> = {}) =>
    fetch(`${system.tokensUrl}${path}`, {
      method: 'POST',
      headers: { ...auth, ...extra },
      body: JSON.stringify(body),
    }) as Promise<JsonResponse>;

  async function eventsOf(tokenId: string) {
    const bare = tokenId.replace(/^waitpoint_/, '');
    return withDatabase(
      system.databaseUrl,
      async (db) =>
        (await db.query(`SELECT event_type, metadata FROM es_events WHERE stream_id = $1 ORDER BY stream_version`, [`token-${bare}`])).rows,
    );
  }

  describe('health and readiness', () => {
    it('answers /health with 200 on the gateway, the token-service and the scheduler', async () => {
      for (const base of [system.baseUrl, system.tokenServiceOpsUrl, scheduler.opsUrl]) {
        const health = await getText(`${base}/health`);
        expect(health.status).toBe(200);
        expect(JSON.parse(health.text)).toMatchObject({ status: 'ok' });
      }
    });

    it('reports each dependency on /ready: NATS for the gateway; PostgreSQL, migrations and NATS for the services', async () => {
      const gateway = JSON.parse((await getText(`${system.baseUrl}/ready`)).text);
      expect(gateway).toMatchObject({ status: 'ok', details: { nats: { status: 'up' } } });

      const tokenService = await getText(`${system.tokenServiceOpsUrl}/ready`);
      expect(tokenService.status).toBe(200);
      expect(JSON.parse(tokenService.text).details).toMatchObject({
        database: { status: 'up' },
        migrations: { status: 'up', applied: tokenServiceMigrations.length },
        nats: { status: 'up' },
        jetstream_publisher: { status: 'up' },
      });

      const schedulerReady = await getText(`${scheduler.opsUrl}/ready`);
      expect(schedulerReady.status).toBe(200);
      expect(JSON.parse(schedulerReady.text).details).toMatchObject({
        database: { status: 'up' },
        migrations: { status: 'up' },
        nats: { status: 'up' },
        deadline_ingest: { status: 'up' },
        timeout_sender: { status: 'up' },
      });
    });

    it('turns /ready to 503, naming the migration, when the database lacks one the build knows', async () => {
      // The newest migration goes missing, as if the database were one release behind the build.
      const [migration] = await withDatabase(
        system.databaseUrl,
        async (db) =>
          (await db.query(`DELETE FROM typeorm_migrations WHERE id = (SELECT max(id) FROM typeorm_migrations) RETURNING *`)).rows,
      );
      try {
        const ready = await getText(`${system.tokenServiceOpsUrl}/ready`);
        expect(ready.status).toBe(503);
        expect(JSON.parse(ready.text)).toMatchObject({
          status: 'error',
          error: { migrations: { status: 'down', pending: [migration.name] } },
          details: { database: { status: 'up' } },
        });
        // Liveness is not readiness: the process still answers.
        expect((await getText(`${system.tokenServiceOpsUrl}/health`)).status).toBe(200);
      } finally {
        await withDatabase(system.databaseUrl, (db) =>
          db.query(`INSERT INTO typeorm_migrations (id, timestamp, name) VALUES ($1, $2, $3)`, [
            migration.id,
            migration.timestamp,
            migration.name,
          ]),
        );
      }
      expect((await getText(`${system.tokenServiceOpsUrl}/ready`)).status).toBe(200);
    });
  });

  describe('metrics', () => {
    it('count tokens by environment and outcome, time their completion, and gauge the waiting ones', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await (await post('', { timeout: '1h' })).json()).id);
      expect((await post(`/${ids[0]}/complete`, { data: { ok: true } })).status).toBe(200);
      expect((await post(`/${ids[1]}/cancel`, { reason: 'metrics' })).status).toBe(200);

      const { text, contentType } = await getText(`${system.tokenServiceOpsUrl}/metrics`);
      expect(contentType).toContain('text/plain');
      expect(sampleValue(text, 'waitpoints_tokens_created_total', { environment: 'dev' })).toBeGreaterThanOrEqual(4);
      expect(sampleValue(text, 'waitpoints_tokens_completed_total', { environment: 'dev', channel: 'api' })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(text, 'waitpoints_tokens_cancelled_total', { environment: 'dev' })).toBeGreaterThanOrEqual(1);
      const waitingInDatabase = await withDatabase(system.databaseUrl, async (db) =>
        Number((await db.query(`SELECT count(*) FROM waitpoint_tokens WHERE status = 'WAITING' AND environment = 'dev'`)).rows[0].count),
      );
      expect(sampleValue(text, 'waitpoints_tokens_waiting', { environment: 'dev' })).toBe(waitingInDatabase);
      expect(
        sampleValue(text, 'waitpoints_token_completion_latency_seconds_count', { environment: 'dev', status: 'COMPLETED' }),
      ).toBeGreaterThanOrEqual(1);
      expect(
        sampleValue(text, 'waitpoints_token_completion_latency_seconds_count', { environment: 'dev', status: 'CANCELLED' }),
      ).toBeGreaterThanOrEqual(1);
      expect(
        sampleValue(text, 'waitpoints_nats_handler_duration_seconds_count', { subject: 'cmd.token.create', outcome: 'ok' }),
      ).toBeGreaterThanOrEqual(4);
      expect(sampleValue(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    });

    it('show the outbox catching up: nothing left unpublished, and this instance as the active relay', async () => {
      await post('', {});
      await eventually(async () => {
        const { text } = await getText(`${system.tokenServiceOpsUrl}/metrics`);
        expect(sampleValue(text, 'waitpoints_outbox_unpublished_events')).toBe(0);
        expect(sampleValue(text, 'waitpoints_outbox_oldest_unpublished_age_seconds')).toBe(0);
        expect(sampleValue(text, 'waitpoints_outbox_relay_active')).toBe(1);
        expect(sampleValue(text, 'waitpoints_outbox_published_events_total')).toBeGreaterThan(0);
      });
    });

    it('count events left unpublished while the relay is stopped', async () => {
      const relay = system.tokenService.get((await import('../../apps/token-service/src/outbox/outbox-relay')).OutboxRelay);
      await relay.stop();
      try {
        await post('', {});
        await post('', {});
        const { text } = await getText(`${system.tokenServiceOpsUrl}/metrics`);
        expect(sampleValue(text, 'waitpoints_outbox_unpublished_events')).toBe(2);
        expect(sampleValue(text, 'waitpoints_outbox_oldest_unpublished_age_seconds')).toBeGreaterThanOrEqual(0);
        expect(sampleValue(text, 'waitpoints_outbox_relay_active')).toBe(0);
      } finally {
        relay.start();
      }
      await eventually(async () =>
        expect(sampleValue((await getText(`${system.tokenServiceOpsUrl}/metrics`)).text, 'waitpoints_outbox_unpublished_events')).toBe(0),
      );
    });

    it("time the gateway's HTTP requests by route pattern and its NATS requests by subject", async () => {
      const { id } = await (await post('', {})).json();
      await fetch(`${system.tokensUrl}/${id}`, { headers: auth });
      await fetch(`${system.tokensUrl}/waitpoint_00000000000000000000000000`, { headers: auth });
      const { text } = await getText(`${system.baseUrl}/metrics`);
      expect(
        sampleValue(text, 'waitpoints_http_request_duration_seconds_count', {
          method: 'POST',
          route: '/api/v1/waitpoints/tokens',
          status: '200',
        }),
      ).toBeGreaterThanOrEqual(1);
      expect(
        sampleValue(text, 'waitpoints_http_request_duration_seconds_count', {
          method: 'GET',
          route: '/api/v1/waitpoints/tokens/:id',
          status: '404',
        }),
      ).toBeGreaterThanOrEqual(1);
      expect(text).not.toContain(id.replace('waitpoint_', ''));
      expect(
        sampleValue(text, 'waitpoints_nats_request_duration_seconds_count', { subject: 'qry.token.get', outcome: 'ok' }),
      ).toBeGreaterThanOrEqual(1);
      expect(
        sampleValue(text, 'waitpoints_nats_request_duration_seconds_count', { subject: 'qry.token.get', outcome: 'token_not_found' }),
      ).toBeGreaterThanOrEqual(1);
    });

    it("expose the scheduler's lateness once a token times out, and its timeout requests to the token-service", async () => {
      const { id } = await (await post('', { timeout: '1s' })).json();
      await eventually(async () => {
        const token = await ((await fetch(`${system.tokensUrl}/${id}`, { headers: auth })) as JsonResponse).json();
        expect(token.status).toBe('TIMED_OUT');
      });
      await eventually(async () => {
        const { text } = await getText(`${scheduler.opsUrl}/metrics`);
        expect(sampleValue(text, 'waitpoints_scheduler_timer_lateness_seconds_count')).toBeGreaterThanOrEqual(1);
        expect(
          sampleValue(text, 'waitpoints_nats_request_duration_seconds_count', { subject: 'cmd.token.timeout-batch', outcome: 'ok' }),
        ).toBeGreaterThanOrEqual(1);
      });
      const { text } = await getText(`${system.tokenServiceOpsUrl}/metrics`);
      expect(sampleValue(text, 'waitpoints_tokens_timed_out_total', { environment: 'dev', forced: 'false' })).toBeGreaterThanOrEqual(1);
      expect(
        sampleValue(text, 'waitpoints_token_completion_latency_seconds_count', { environment: 'dev', status: 'TIMED_OUT' }),
      ).toBeGreaterThanOrEqual(1);
    });
  });

  describe('correlation id', () => {
    it("travels from x-request-id through NATS into the stored event, the published event and both services' logs", async () => {
      const requestId = `obs-${Date.now()}`;
      const response = await post('', { tags: ['corr'] }, { 'x-request-id': requestId });
      expect(response.headers.get('x-request-id')).toBe(requestId);
      const { id, url } = await response.json();

      const [created] = await eventsOf(id);
      expect(created.metadata.correlationId).toBe(requestId);

      const published = await eventually(async () => {
        const message = await lastMessage(system.streamName, eventSubjects(system.subjectPrefix).forToken(id.replace('waitpoint_', '')));
        expect(message).toBeDefined();
        return message!;
      });
      expect(published.headers?.get(CORRELATION_ID_HEADER)).toBe(requestId);

      const gatewayLine = logs.find((line) => line.service === 'gateway' && line.correlationId === requestId && line.res !== undefined);
      expect(gatewayLine).toEqual([
        expect.objectContaining({
          level: 'info',
          msg: 'POST /api/v1/waitpoints/tokens 200',
          req: { method: 'POST', url: '/api/v1/waitpoints/tokens' },
        }),
      ]);
      expect(typeof gatewayLine[0].time).toBe('string');
      expect(logs.find((line) => line.service === 'token-service' && line.correlationId === requestId)).toEqual([
        expect.objectContaining({ level: 'debug', subject: 'cmd.token.create', outcome: 'ok' }),
      ]);

      // A callback completion, with another id, is traced the same way.
      const callbackId = `cb-${Date.now()}`;
      await fetch(url, { method: 'POST', headers: { 'x-request-id': callbackId }, body: '{"done":true}' });
      const [, completed] = await eventsOf(id);
      expect(completed).toMatchObject({
        event_type: 'TokenCompleted',
        metadata: { correlationId: callbackId, actor: { type: 'callback' } },
      });
    });

    it('makes one up when the caller sends none, and uses it everywhere', async () => {
      const response = await post('', {});
      const requestId = response.headers.get('x-request-id')!;
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      const [created] = await eventsOf((await response.json()).id);
      expect(created.metadata.correlationId).toBe(requestId);
    });

    it('prefers the NATS header over the metadata in the command when both are given', async () => {
      const { id } = await (await post('', {})).json();
      const nc: NatsConnection = await connect({ servers: TEST_NATS_URL });
      try {
        const h = natsHeaders();
        h.set(CORRELATION_ID_HEADER, 'from-header');
        const reply = await nc.request(
          `${system.subjectPrefix}.cmd.token.timeout`,
          codec.encode(
            JSON.stringify({
              pattern: 'cmd.token.timeout',
              id: '1',
              data: {
                tokenId: id.replace('waitpoint_', ''),
                force: true,
                metadata: { correlationId: 'from-payload', actor: { type: 'operator', id: 'ops' } },
              },
            }),
          ),
          { headers: h, timeout: 5000 },
        );
        expect(JSON.parse(codec.decode(reply.data)).response).toMatchObject({ ok: true, value: { status: 'TIMED_OUT' } });
      } finally {
        await nc.close();
      }
      const [, timedOut] = await eventsOf(id);
      expect(timedOut).toMatchObject({
        event_type: 'TokenTimedOut',
        metadata: { correlationId: 'from-header', actor: { type: 'operator' } },
      });
    });
  });

  describe('logs', () => {
    it('are one JSON object per line with time, level, service and message, and never carry credentials', async () => {
      const created = await post('', {});
      const { id, url } = await created.json();
      const publicAccessToken = created.headers.get('x-trigger-jwt')!;
      await fetch(url, { method: 'POST', body: '{}' });
      const { approvalUrl } = await (await post('', { approval: { title: 'Logged?' } })).json();
      expect((await fetch(approvalUrl)).status).toBe(200);
      // EventSource cannot send headers, so browsers pass the public access token in the URL.
      const stream = await fetch(`${system.baseUrl}/api/v1/waitpoints/tokens/${id}/events?access_token=${publicAccessToken}`);
      expect(stream.status).toBe(200);
      await stream.text(); // a finished token's stream ends after its state
      await eventually(async () => expect(logs.find((line) => String(line.msg).includes('/callback/'))).not.toHaveLength(0));
      for (const line of logs.lines) {
        expect(line).toEqual(expect.objectContaining({ time: expect.any(String), level: expect.any(String), service: expect.any(String) }));
      }
      const everything = logs.raw.join('\n');
      expect(everything).not.toContain(TEST_KEYS.dev);
      expect(everything).not.toContain(url.split('/callback/')[1]);
      expect(everything).toContain('/callback/[redacted]');
      expect(everything).not.toContain(approvalUrl.split('/approval/')[1]);
      expect(everything).toContain('/approval/[redacted]');
      expect(everything).not.toContain(publicAccessToken);
      expect(everything).toContain('access_token=[redacted]');
    });
  });
});

/** The newest message of a stream under a subject filter, with its headers. */
async function lastMessage(streamName: string, subject: string): Promise<JsMsg | undefined> {
  const nc = await connect({ servers: TEST_NATS_URL });
  try {
    const consumer = await nc.jetstream().consumers.get(streamName, { filterSubjects: subject });
    const messages = await consumer.fetch({ max_messages: 10, expires: 1000 });
    let last: JsMsg | undefined;
    for await (const message of messages as AsyncIterable<JsMsg>) {
      last = message;
      if (message.info.pending === 0) break;
    }
    return last;
  } finally {
    await nc.close();
  }
}
